// Command voucherctl is the command-line client for administrators, auditors
// and platform integrators.
//
//	voucherctl token --role campaign_manager --sub alice   mint a development token
package main

import (
	"fmt"
	"os"
	"sort"
	"strings"
)

// command is one voucherctl subcommand.
type command struct {
	summary string
	run     func(args []string) error
}

var commands = map[string]command{
	"token": {"mint a development token signed with the keys in voucherd's data folder", runToken},
}

func main() {
	if len(os.Args) < 2 || os.Args[1] == "help" || os.Args[1] == "-h" || os.Args[1] == "--help" {
		usage()
		return
	}
	cmd, ok := commands[os.Args[1]]
	if !ok {
		fmt.Fprintf(os.Stderr, "voucherctl: unknown command %q\n\n", os.Args[1])
		usage()
		os.Exit(2)
	}
	if err := cmd.run(os.Args[2:]); err != nil {
		fmt.Fprintf(os.Stderr, "voucherctl %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}

func usage() {
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	b.WriteString("usage: voucherctl <command> [flags]   (voucherctl <command> -h for its flags)\n\ncommands:\n")
	for _, n := range names {
		fmt.Fprintf(&b, "  %-10s %s\n", n, commands[n].summary)
	}
	fmt.Fprint(os.Stderr, b.String())
}

func envOr(name, def string) string {
	if v, ok := os.LookupEnv(name); ok {
		return v
	}
	return def
}
