package app

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/technifold/technifold/app/console"
	"github.com/technifold/technifold/store"
)

const userUsage = `user create --email E --role admin|staff | user list | user disable --email E | user enable --email E | user password --email E [flags]

create: the password is read from standard input (one line) when it is piped in; with
nothing piped (or an empty line) a password is generated and printed once.
password: sets a new password the same way and ends the user's sessions.`

// runUser is the `user` verb: staff accounts of the admin UI.
func runUser(ctx context.Context, env Env, args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		newFlagSet(env, "user", userUsage, nil).Usage()
		if len(args) == 0 {
			return errUsage
		}
		return nil
	}
	verb := args[0]
	cfg := &Config{}
	fs := newFlagSet(env, "user "+verb, userUsage, cfg)
	email := fs.String("email", "", "the user's e-mail address")
	role := fs.String("role", store.RoleStaff, "admin or staff")
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	if len(fs.Args()) > 0 {
		return fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	switch verb {
	case "create", "disable", "enable", "password":
		if strings.TrimSpace(*email) == "" {
			return errors.New("--email is required")
		}
	case "list":
	default:
		fmt.Fprintf(env.Stderr, "technifold user: unknown action %q\n\nUsage: technifold %s\n", verb, userUsage)
		return errUsage
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	db, err := openDB(ctx, cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	by := store.AuditEntry{Actor: "cli"}
	switch verb {
	case "create":
		pw, err := passwordFromStdin(env.Stdin)
		if err != nil {
			return err
		}
		user, used, err := console.CreateUser(ctx, db, *email, *role, pw, by)
		if err != nil {
			return err
		}
		fmt.Fprintf(env.Stdout, "created %s user %s\n", user.Role, user.Email)
		if pw == "" {
			fmt.Fprintf(env.Stdout, "password: %s\n(shown once; it is stored only as a hash)\n", used)
		}
	case "list":
		users, err := db.ListUsers(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tEMAIL\tROLE\tSTATE\tLAST SIGN-IN")
		for _, u := range users {
			state, last := "active", "never"
			if u.Disabled {
				state = "disabled"
			}
			if !u.LastLoginAt.IsZero() {
				last = store.FormatTime(u.LastLoginAt)
			}
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", u.ID, u.Email, u.Role, state, last)
		}
		return tw.Flush()
	case "disable", "enable":
		return setUserDisabledCLI(ctx, db, env, *email, verb == "disable", by)
	case "password":
		return setPasswordCLI(ctx, db, env, *email, by)
	}
	return nil
}

// passwordFromStdin reads one line when standard input is piped; "" means generate one.
func passwordFromStdin(in io.Reader) (string, error) {
	if in == nil {
		return "", nil
	}
	if f, ok := in.(*os.File); ok {
		if st, err := f.Stat(); err != nil || st.Mode()&os.ModeCharDevice != 0 {
			return "", nil // a terminal would echo the password: generate one instead
		}
	}
	line, err := bufio.NewReader(io.LimitReader(in, 4096)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read the password from standard input: %w", err)
	}
	return strings.TrimRight(line, "\r\n"), nil
}

func setUserDisabledCLI(ctx context.Context, db *store.DB, env Env, email string, disabled bool, by store.AuditEntry) error {
	u, err := db.UserByEmail(ctx, email)
	if err != nil {
		return err
	}
	by.Action, by.Target = map[bool]string{true: "user.disable", false: "user.enable"}[disabled], u.Email
	err = db.Update(ctx, func(tx *store.Tx) error {
		if _, err := tx.SetUserDisabled(ctx, u.ID, disabled); err != nil {
			return err
		}
		return tx.InsertAudit(ctx, by, nil)
	})
	if err == nil {
		fmt.Fprintf(env.Stdout, "%s is %s\n", u.Email, map[bool]string{true: "disabled", false: "enabled"}[disabled])
	}
	return err
}

func setPasswordCLI(ctx context.Context, db *store.DB, env Env, email string, by store.AuditEntry) error {
	u, err := db.UserByEmail(ctx, email)
	if err != nil {
		return err
	}
	pw, err := passwordFromStdin(env.Stdin)
	if err != nil {
		return err
	}
	generated := pw == ""
	if generated {
		pw = console.GeneratePassword()
	}
	hash, err := console.HashPassword(pw)
	if err != nil {
		return err
	}
	by.Action, by.Target = "user.password", u.Email
	err = db.Update(ctx, func(tx *store.Tx) error {
		if err := tx.SetUserPassword(ctx, u.ID, hash); err != nil {
			return err
		}
		return tx.InsertAudit(ctx, by, map[string]bool{"generated_password": generated})
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "password of %s changed; their sessions have ended\n", u.Email)
	if generated {
		fmt.Fprintf(env.Stdout, "password: %s\n(shown once)\n", pw)
	}
	return nil
}
