// Command hf is a command-line client for the Higgsfield generation API.
package main

import (
	"os"

	"github.com/hf-cli/hf/pkg/cmd/root"
)

// version is set at build time (-ldflags "-X main.version=...").
var version = "dev"

func main() {
	os.Exit(root.Main(version, os.Args[1:]))
}
