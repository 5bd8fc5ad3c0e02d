package app

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/technifold/technifold/store"
)

const outboxUsage = `usage: technifold outbox <command> [flags]

commands:
  list [--status S] [--type T] [--limit N]   list jobs, newest first
  retry ID                                   make a failed or dead job due now
  cancel ID                                  cancel a pending, failed or dead job
  run [--max 50s]                            work through due jobs now
`

// RunOutboxCommand implements "technifold outbox list|retry|cancel|run".
func RunOutboxCommand(ctx context.Context, db *store.DB, reg *Registry, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, outboxUsage)
		return errors.New("outbox: missing command (list, retry, cancel or run)")
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "-h", "--help", "help":
		fmt.Fprint(stdout, outboxUsage)
		return nil
	case "list":
		return outboxList(ctx, db, rest, stdout)
	case "retry":
		return outboxByID(ctx, "retry", "make a failed or dead job due now (a dead job gets its attempts back)",
			db.RetryJob, rest, stdout)
	case "cancel":
		return outboxByID(ctx, "cancel", "cancel a pending, failed or dead job", db.CancelJob, rest, stdout)
	case "run":
		return outboxRun(ctx, db, reg, rest, stdout, stderr)
	}
	fmt.Fprint(stderr, outboxUsage)
	return fmt.Errorf("outbox: unknown command %q (want list, retry, cancel or run)", cmd)
}

// parseOutboxFlags parses args; help prints the usage to stdout and reports done.
func parseOutboxFlags(fs *flag.FlagSet, args []string, stdout io.Writer) (done bool, err error) {
	fs.SetOutput(io.Discard)
	err = fs.Parse(args)
	if errors.Is(err, flag.ErrHelp) {
		fs.SetOutput(stdout)
		fs.Usage()
		return true, nil
	}
	if err != nil {
		return true, fmt.Errorf("outbox %s: %w", fs.Name(), err)
	}
	return false, nil
}

func newOutboxFlags(name, synopsis, summary string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: technifold outbox %s\n\n%s\n", synopsis, summary)
		fs.PrintDefaults()
	}
	return fs
}

func outboxList(ctx context.Context, db *store.DB, args []string, stdout io.Writer) error {
	fs := newOutboxFlags("list", "list [--status S] [--type T] [--limit N]", "List outbox jobs, newest first.")
	var f store.JobFilter
	var status string
	fs.StringVar(&status, "status", "", "only jobs in this status ("+jobStatusList()+")")
	fs.StringVar(&f.Type, "type", "", "only jobs of this type")
	fs.IntVar(&f.Limit, "limit", 50, "at most this many jobs (1-1000)")
	if done, err := parseOutboxFlags(fs, args, stdout); done {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("outbox list: unexpected argument %q", fs.Arg(0))
	}
	f.Status = store.JobStatus(status)
	if f.Limit < 1 || f.Limit > 1000 {
		return fmt.Errorf("outbox list: --limit %d is out of range (1-1000)", f.Limit)
	}
	jobs, err := db.ListJobs(ctx, f)
	if err != nil {
		return fmt.Errorf("outbox list: %w", err)
	}
	if len(jobs) == 0 {
		fmt.Fprintln(stdout, "no jobs")
		return nil
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tTYPE\tSTATUS\tATTEMPTS\tSCHEDULED_FOR\tLAST_ERROR")
	for _, j := range jobs {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%d/%d\t%s\t%s\n", j.ID, j.JobType, j.Status, j.Attempts, j.MaxAttempts,
			store.FormatTime(j.ScheduledFor), truncateForTable(j.LastError, 60))
	}
	return tw.Flush()
}

// truncateForTable keeps a value on one line and at most n runes.
func truncateForTable(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

func outboxByID(ctx context.Context, name, summary string, op func(context.Context, int64) error, args []string, stdout io.Writer) error {
	fs := newOutboxFlags(name, name+" ID", strings.ToUpper(summary[:1])+summary[1:]+".")
	if done, err := parseOutboxFlags(fs, args, stdout); done {
		return err
	}
	switch {
	case fs.NArg() == 0:
		return fmt.Errorf("%s: missing job ID", name)
	case fs.NArg() > 1:
		return fmt.Errorf("%s: unexpected argument %q", name, fs.Arg(1))
	}
	id, err := strconv.ParseInt(fs.Arg(0), 10, 64)
	if err != nil || id <= 0 {
		return fmt.Errorf("%s: invalid job ID %q", name, fs.Arg(0))
	}
	if err := op(ctx, id); err != nil {
		return withSubject(fmt.Sprintf("%s job %d", name, id), err)
	}
	past := map[string]string{"retry": "queued for retry", "cancel": "cancelled"}[name]
	fmt.Fprintf(stdout, "job %d %s\n", id, past)
	return nil
}

func outboxRun(ctx context.Context, db *store.DB, reg *Registry, args []string, stdout, stderr io.Writer) error {
	fs := newOutboxFlags("run", "run [--max 50s]", "Work through due jobs now, until none is due or --max has passed.")
	maxDur := fs.Duration("max", outboxRunBudget, "longest time to keep claiming jobs")
	if done, err := parseOutboxFlags(fs, args, stdout); done {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("outbox run: unexpected argument %q", fs.Arg(0))
	}
	if *maxDur <= 0 {
		return fmt.Errorf("outbox run: --max %s must be positive", *maxDur)
	}
	w := NewWorker(db, reg, WorkerOptions{Logger: slog.New(slog.NewTextHandler(stderr, nil))})
	start := time.Now()
	processed, failed, err := w.RunDue(ctx, *maxDur)
	fmt.Fprintf(stdout, "processed %d jobs, %d failed, in %s\n", processed, failed, time.Since(start).Round(time.Millisecond))
	if err != nil {
		return fmt.Errorf("outbox run: %w", err)
	}
	return nil
}

// jobStatusList is the declared job statuses, comma-separated.
func jobStatusList() string {
	var out []string
	for _, st := range store.JobStatuses() {
		out = append(out, string(st))
	}
	return strings.Join(out, ", ")
}
