package main

import "github.com/streamgate/streamgate/cmd/internal/cli"

// version is stamped at build time: -ldflags "-X main.version=v1.2.3".
var version = ""

func buildVersion() string { return cli.Version(version) }
