package chaos

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/logship/logship/internal/pgtest"
)

// source is the real PostgreSQL cluster: it archives through logship into
// every target, and the campaign writes probe rows, marks, backs up, purges
// and restores around it.
type source struct {
	pg    *pgtest.Cluster
	probe int // last probe row written
}

// mark is an acknowledged mark and the data committed when it was made.
type mark struct {
	name  string
	lsn   uint64
	state string
}

// stateSQL sums up the probe table: what a restore to a mark must match.
const stateSQL = "SELECT count(*) || '/' || coalesce(max(n), 0) || '/' || coalesce(sum(n), 0) FROM probe"

const cmdLimit = 3 * time.Minute // any backup, mark, purge, verify or restore running longer hangs

func (c *Campaign) setupCluster() error {
	var archive []string
	for _, tg := range c.targets {
		archive = append(archive, c.bin+" "+strings.Join(tg.source("main"), " ")+" wal-push %p")
	}
	err := c.t.pg(func() {
		pgc := pgtest.Start(c.t, pgtest.Options{Env: awsEnv(), Conf: []string{
			"archive_mode = on", "archive_command = '" + strings.Join(archive, " && ") + "'",
		}})
		c.cluster = &source{pg: pgc}
		pgc.Exec(c.t, "CREATE TABLE probe (n int PRIMARY KEY); CREATE TABLE filler (x int)")
	})
	if err != nil {
		return err
	}
	if err := c.switchAndWait(); err != nil {
		return err
	}
	for _, tg := range c.targets {
		if err := c.takeBackup(tg); err != nil {
			return err
		}
		if err := c.takeMark(tg); err != nil {
			return err
		}
	}
	return nil
}

// sql runs statements on the source.
func (c *Campaign) sql(stmt string) error {
	return c.t.pg(func() { c.cluster.pg.Exec(c.t, stmt) })
}

func (c *Campaign) query(q string) (string, error) {
	var s string
	err := c.t.pg(func() { s = c.cluster.pg.QueryString(c.t, q) })
	return s, err
}

// write commits a probe row, and now and then a burst of filler WAL.
func (c *Campaign) write() error {
	c.cluster.probe++
	stmt := fmt.Sprintf("INSERT INTO probe VALUES (%d)", c.cluster.probe)
	if c.rng.IntN(3) == 0 {
		stmt += fmt.Sprintf("; INSERT INTO filler SELECT generate_series(1, %d)", 1000+c.rng.IntN(60000))
	}
	return c.sql(stmt)
}

// switchAndWait switches WAL and waits until the closed segment is archived.
func (c *Campaign) switchAndWait() error {
	if err := c.write(); err != nil {
		return err
	}
	seg, err := c.query("SELECT pg_walfile_name(pg_switch_wal())")
	if err != nil {
		return err
	}
	return c.waitArchived(seg)
}

func (c *Campaign) waitArchived(seg string) error {
	ok := pgtest.Poll(cmdLimit, func() bool {
		last, err := c.query("SELECT coalesce(last_archived_wal, '') FROM pg_stat_archiver")
		return err == nil && last >= seg
	})
	if !ok {
		c.fig.Hangs++
		c.finding("hang", "archiving stuck: "+seg+" not archived within "+cmdLimit.String())
	}
	return nil
}

// waitIdle waits until the archiver has nothing left to push, so that a
// verify does not see the window between two parallel pushes.
func (c *Campaign) waitIdle() {
	ok := pgtest.Poll(cmdLimit, func() bool {
		n, err := c.query("SELECT count(*) FROM pg_ls_archive_statusdir() WHERE name LIKE '%.ready'")
		return err == nil && n == "0"
	})
	if !ok {
		c.fig.Hangs++
		c.finding("hang", "the archiver did not catch up within "+cmdLimit.String())
	}
}

// takeMark writes a probe row and makes an acknowledged mark on tg.
func (c *Campaign) takeMark(tg *target) error {
	if err := c.write(); err != nil {
		return err
	}
	state, err := c.query(stateSQL)
	if err != nil {
		return err
	}
	name := c.markName(tg)
	r := c.run(cmdLimit, nil, append(tg.source("main"), "--pg", c.cluster.pg.ConnString(), "mark", "--json", name)...)
	if r.code != 0 {
		return fmt.Errorf("mark: %s", r)
	}
	c.learn("mark@"+tg.name, r)
	return c.ackMark(tg, name, state, r.stdout)
}

// markName is the next mark name on tg. The one cluster marks every store,
// so with SharedMarkNames two restore points share each name.
func (c *Campaign) markName(tg *target) string {
	tg.seq++
	if c.cfg.SharedMarkNames {
		return fmt.Sprintf("m%d", tg.seq)
	}
	return fmt.Sprintf("%s_m%d", tg.name, tg.seq)
}

func (c *Campaign) ackMark(tg *target, name, state, stdout string) error {
	var m struct {
		LSN string `json:"lsn"`
	}
	if err := json.Unmarshal([]byte(stdout), &m); err != nil {
		return fmt.Errorf("mark --json: %v: %q", err, stdout)
	}
	lsn, err := parseLSN(m.LSN)
	if err != nil {
		return err
	}
	tg.marks = append(tg.marks, &mark{name: name, lsn: lsn, state: state})
	c.fig.AckMarks++
	return nil
}

func parseLSN(s string) (uint64, error) {
	hi, lo, ok := strings.Cut(s, "/")
	h, err1 := strconv.ParseUint(hi, 16, 32)
	l, err2 := strconv.ParseUint(lo, 16, 32)
	if !ok || err1 != nil || err2 != nil {
		return 0, fmt.Errorf("bad LSN %q", s)
	}
	return h<<32 | l, nil
}

func formatLSN(v uint64) string { return fmt.Sprintf("%X/%X", v>>32, uint32(v)) }

// reached is what restore --json says it reached.
func reached(stdout string) string {
	var out struct {
		Reached *struct {
			State    string `json:"state"`
			LSN      string `json:"lsn"`
			StopLine string `json:"stop_line"`
		} `json:"reached"`
	}
	if json.Unmarshal([]byte(stdout), &out) != nil || out.Reached == nil {
		return "(no JSON)"
	}
	return fmt.Sprintf("%s at LSN %s (%q)", out.Reached.State, out.Reached.LSN, out.Reached.StopLine)
}

func (c *Campaign) takeBackup(tg *target) error {
	r := c.run(cmdLimit, nil, append(tg.source("main"), "--pg", c.cluster.pg.ConnString(), "backup", "--fast")...)
	if r.code != 0 {
		return fmt.Errorf("backup: %s", r)
	}
	c.learn("backup@"+tg.name, r)
	c.fig.AckBackups++
	return nil
}

// queryRestored reads the probe state of a restored server.
func queryRestored(dir string, port int) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, fmt.Sprintf("host=%s port=%d user=postgres dbname=postgres sslmode=disable", dir, port))
	if err != nil {
		return "", err
	}
	defer conn.Close(context.Background())
	var s string
	err = conn.QueryRow(ctx, stateSQL, pgx.QueryExecModeSimpleProtocol).Scan(&s)
	return s, err
}
