"""One module per `sws` subcommand: each has add_parser(subparsers) and run(args)."""
