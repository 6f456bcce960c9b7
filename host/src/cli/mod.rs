//! The `tickstock` command line: one enum of subcommands, one module per subcommand group.
