package drill

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// connector opens connections to the restored server, over its socket in
// the data directory.
type connector struct {
	dir  string
	port int
	user string
}

// checkTimeout bounds one connection or statement of the built-in checks.
const checkTimeout = time.Minute

func (c connector) connect(ctx context.Context, db string) (*pgx.Conn, error) {
	cfg, err := pgx.ParseConfig("")
	if err != nil {
		return nil, err
	}
	cfg.Host, cfg.Port, cfg.User, cfg.Database = c.dir, uint16(c.port), c.user, db
	cfg.RuntimeParams = map[string]string{"application_name": "logship drill"}
	cctx, cancel := context.WithTimeout(ctx, checkTimeout)
	defer cancel()
	return pgx.ConnectConfig(cctx, cfg)
}

// firstValue runs sql with the simple protocol, whose results are text as
// psql prints them, and returns the first column of the first row.
func firstValue(ctx context.Context, conn *pgx.Conn, sql string) (string, error) {
	rows, err := conn.Query(ctx, sql, pgx.QueryExecModeSimpleProtocol)
	if err != nil {
		return "", err
	}
	defer rows.Close()
	val := "(no rows)"
	if rows.Next() {
		raw := rows.RawValues()
		switch {
		case len(raw) == 0:
			val = "(no columns)"
		case raw[0] == nil:
			val = "NULL"
		default:
			val = strings.TrimSpace(string(raw[0]))
		}
	}
	for rows.Next() {
	}
	return val, rows.Err()
}

// runChecks runs the built-in checks on every database that allows
// connections, then the check file's.
func runChecks(ctx context.Context, rep *Report, opts Options, cn connector) {
	var dbs []string
	if !rep.step("list databases", func() (string, error) {
		var err error
		dbs, err = databases(ctx, cn)
		return strings.Join(dbs, ", "), err
	}) {
		return
	}
	for _, db := range dbs {
		checkDatabase(ctx, rep, cn, db, opts.Amcheck)
	}
	for _, sc := range opts.SQL {
		rep.step(sc.name(), func() (string, error) { return runSQLCheck(ctx, cn, sc) })
	}
}

func databases(ctx context.Context, cn connector) ([]string, error) {
	conn, err := cn.connect(ctx, "postgres")
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.Background())
	rows, err := conn.Query(ctx, "SELECT datname FROM pg_database WHERE datallowconn ORDER BY datname")
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// checkDatabase connects to db and counts its catalog (a restored catalog
// that cannot be read fails here), then runs amcheck if asked.
func checkDatabase(ctx context.Context, rep *Report, cn connector, db string, amcheck bool) {
	var conn *pgx.Conn
	if !rep.step("connect "+db, func() (string, error) {
		var err error
		conn, err = cn.connect(ctx, db)
		return "connected as " + cn.user, err
	}) {
		return
	}
	defer conn.Close(context.Background())
	rep.step("catalog "+db, func() (string, error) {
		cctx, cancel := context.WithTimeout(ctx, checkTimeout)
		defer cancel()
		var rels, tables, ns int64
		err := conn.QueryRow(cctx, `SELECT (SELECT count(*) FROM pg_class),
			(SELECT count(*) FROM pg_class WHERE relkind IN ('r','p') AND relnamespace NOT IN ('pg_catalog'::regnamespace, 'information_schema'::regnamespace)),
			(SELECT count(*) FROM pg_namespace)`).Scan(&rels, &tables, &ns)
		return fmt.Sprintf("%d relations, %d user tables, %d schemas", rels, tables, ns), err
	})
	if amcheck {
		checkIndexes(ctx, rep, conn, db)
	}
}

// checkIndexes runs bt_index_check on every valid B-tree index of db, if
// the server has amcheck; the scratch server may install it, since it is
// removed afterwards and does not archive.
func checkIndexes(ctx context.Context, rep *Report, conn *pgx.Conn, db string) {
	name := "amcheck " + db
	var avail bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT FROM pg_available_extensions WHERE name = 'amcheck')").Scan(&avail); err != nil {
		rep.fail(name, err)
		return
	}
	if !avail {
		rep.Checks = append(rep.Checks, Check{Name: name, Skipped: true, Message: "amcheck is not installed on this server"})
		return
	}
	rep.step(name, func() (string, error) {
		if _, err := conn.Exec(ctx, "CREATE EXTENSION IF NOT EXISTS amcheck"); err != nil {
			return "", err
		}
		var n int64
		err := conn.QueryRow(ctx, `SELECT count(bt_index_check(c.oid)) FROM pg_index i
			JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am a ON a.oid = c.relam
			WHERE a.amname = 'btree' AND i.indisvalid AND i.indisready AND c.relpersistence <> 't'`).Scan(&n)
		return fmt.Sprintf("%d B-tree indexes checked", n), err
	})
}

func runSQLCheck(ctx context.Context, cn connector, sc SQLCheck) (string, error) {
	db := sc.Database
	if db == "" {
		db = "postgres"
	}
	conn, err := cn.connect(ctx, db)
	if err != nil {
		return "", err
	}
	defer conn.Close(context.Background())
	got, err := firstValue(ctx, conn, sc.SQL)
	if err != nil {
		return "", err
	}
	if got != sc.Expect {
		return "", fmt.Errorf("got %q, expected %q", got, sc.Expect)
	}
	return "got " + got, nil
}
