from songpop.cli import main

main()
