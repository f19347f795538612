// Command voucherctl is the command-line client for administrators, auditors
// and platform integrators.
//
//	voucherctl token --role campaign_manager --sub alice   mint a development token
//	voucherctl campaign create -f scripts/examples/shanghai-consumption.yaml
//	voucherctl campaign approve ID --sub bob              four eyes: not the author
//	voucherctl audit verify
//	voucherctl settlement pay ID --reference ICBC-0001 --sub bob
//
// Every server command takes --server (env TONGQUAN_URL) and --token (env
// TONGQUAN_TOKEN); without a token it mints a development one from voucherd's
// data folder, so a local tour needs no identity provider.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// command is one voucherctl command or group of subcommands. It writes its
// results to out; failures come back as errors.
type command struct {
	summary string
	run     func(out io.Writer, args []string) error
}

var root = group{name: "voucherctl", commands: map[string]command{
	"token": {"mint a development token signed with the keys in voucherd's data folder",
		func(_ io.Writer, args []string) error { return runToken(args) }},
	"campaign":      {"design campaigns, move them through their lifecycle, manage their budgets", campaignCommands.run},
	"budget-change": {"approve or reject a requested budget change", budgetChangeCommands.run},
	"platform":      {"register platforms and rotate their keys", platformCommands.run},
	"merchant":      {"import a platform's merchants", merchantCommands.run},
	"grant":         {"grant vouchers of a tier to a list of holders (CSV) and follow the job", runGrantCommand},
	"audit":         {"verify the audit log and read an entity's history", auditCommands.run},
	"lottery":       {"show a campaign's lottery and verify its draw", lotteryCommands.run},
	"receipt":       {"verify a checkout receipt against voucherd's published keys", receiptCommands.run},
	"settlement":    {"list, show and pay platforms' settlement statements", settlementCommands.run},
	"reconcile":     {"compare a platform's own record of a day (CSV) with ours", runReconcile},
}}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run executes one command line and returns the exit status: 0 on success,
// 1 when the command failed, 2 when the command line itself is wrong.
func run(args []string, stdout, stderr io.Writer) int {
	err := root.run(stdout, args)
	var usage usageError
	switch {
	case err == nil || errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &usage):
		if usage != "" {
			fmt.Fprintln(stderr, strings.TrimRight(string(usage), "\n"))
		}
		return 2
	default:
		fmt.Fprintf(stderr, "voucherctl %s: %v\n", args[0], err)
		return 1
	}
}

// usageError is a command line that cannot run. Its text (empty when the flag
// package already printed the problem) goes to stderr.
type usageError string

func (e usageError) Error() string { return string(e) }

// group dispatches to subcommands by the first argument.
type group struct {
	name     string // the words that lead here, e.g. "voucherctl campaign"
	commands map[string]command
}

func (g group) run(out io.Writer, args []string) error {
	if len(args) == 0 {
		return usageError(g.usage())
	}
	switch args[0] {
	case "help", "-h", "-help", "--help":
		_, err := fmt.Fprint(out, g.usage())
		return err
	}
	cmd, ok := g.commands[args[0]]
	if !ok {
		return usageError(fmt.Sprintf("unknown command %q\n\n%s", args[0], g.usage()))
	}
	return cmd.run(out, args[1:])
}

func (g group) usage() string {
	names := make([]string, 0, len(g.commands))
	width := 0
	for n := range g.commands {
		names = append(names, n)
		width = max(width, len(n))
	}
	sort.Strings(names)
	var b strings.Builder
	fmt.Fprintf(&b, "usage: %s <command> [flags]   (%s <command> -h for its flags)\n\ncommands:\n", g.name, g.name)
	for _, n := range names {
		fmt.Fprintf(&b, "  %-*s  %s\n", width, n, g.commands[n].summary)
	}
	return b.String()
}

func envOr(name, def string) string {
	if v, ok := os.LookupEnv(name); ok {
		return v
	}
	return def
}
