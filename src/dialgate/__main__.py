from dialgate.entrypoints.cli import main

main()
