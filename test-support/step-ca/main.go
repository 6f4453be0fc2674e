// step-ca-harness: Smallstep step-ca 0.19's CA server, built for the interop
// tests from Debian's Go source package (golang-github-smallstep-certificates-dev
// ships the library packages but no cmd/ directory, so no step-ca main).
//
// This is step-ca's own `step-ca` command (commands.AppCommand: the ca.json
// path argument, --password-file, --resolver …) in an app of our own; nothing
// of step-ca's behaviour is changed. test-support/peers/step-ca.ts builds it
// once per Debian package version into .cache/step-ca/ with
//
//	GOPATH=/usr/share/gocode GO111MODULE=off go build -o step-ca-harness .
package main

import (
	"fmt"
	"os"

	"github.com/smallstep/certificates/commands"
	"github.com/urfave/cli"
)

func main() {
	app := cli.NewApp()
	app.Name = "step-ca-harness"
	app.Usage = "Smallstep step-ca " + "0.19 (Debian's sources) for the SCEP interop tests"
	app.Flags = commands.AppCommand.Flags
	app.Action = commands.AppCommand.Action
	if err := app.Run(os.Args); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
