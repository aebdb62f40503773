from sai3bench.cli.app import main

main()
