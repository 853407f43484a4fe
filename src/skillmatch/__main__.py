from skillmatch.cli import main

main()
