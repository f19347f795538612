// Command voucherd runs the Tongquan platform: the issuer, redemption and
// audit roles in one binary, deployed per role or all together.
//
//	voucherd [serve] [--role all|issuer,redemption,audit] [flags]
//	voucherd migrate up|down|status [flags]
//	voucherd health
package main

import (
	"fmt"
	"os"
)

func main() {
	args := os.Args[1:]
	cmd := "serve"
	if len(args) > 0 && args[0] != "" && args[0][0] != '-' {
		cmd, args = args[0], args[1:]
	}
	var err error
	switch cmd {
	case "serve":
		err = serve(args)
	case "migrate":
		err = migrate(args)
	case "health":
		err = health()
	case "help":
		usage()
		return
	default:
		fmt.Fprintf(os.Stderr, "voucherd: unknown command %q\n\n", cmd)
		usage()
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "voucherd: %v\n", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprint(os.Stderr, `usage:
  voucherd [serve] [flags]           run the platform (voucherd serve -h lists the flags)
  voucherd migrate up|down|status    manage the database schema
  voucherd health                    exit 0 if the local voucherd is ready (container health check)

With no DATABASE_URL, voucherd runs its own PostgreSQL in --data-dir (default ./.tongquan).
`)
}
