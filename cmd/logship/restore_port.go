package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/logship/logship/pg/server"
)

// restoredListen decides where a restored server listens when --port is
// not given. The backup keeps the source's port and socket directory; on
// the source's own host (a drill, a second copy) that collides with the
// running primary, and elsewhere the socket directory may not exist. Then
// it picks the next free port, socket in the data directory (or /tmp when
// that path is too long for a socket), and says why in note. A port of 0
// means: keep the backup's. The /tmp case is written here; the others the
// caller writes (restore.SetPort, or restore.Start's Port).
func restoredListen(dir string, asked int) (port int, note string, err error) {
	if asked != 0 {
		return asked, "", nil
	}
	conf, err := server.ReadConf(dir)
	if err != nil {
		return 0, "", err
	}
	backupPort := 5432
	if p, err := strconv.Atoi(conf["port"]); err == nil && p > 0 {
		backupPort = p
	}
	sockets := socketDirs(conf)
	var why string
	switch missing := firstMissingDir(sockets); {
	case portInUse(backupPort, sockets):
		why = fmt.Sprintf("the backup's port %d is in use on this host", backupPort)
	case missing != "":
		why = fmt.Sprintf("the backup's socket directory %s does not exist on this host", missing)
	default:
		return 0, "", nil
	}
	sockDir := dir
	if server.CheckSocketDir(dir) != nil {
		sockDir = "/tmp"
	}
	port = backupPort
	for portInUse(port, []string{sockDir}) {
		if port++; port > 65535 {
			return 0, "", errors.New(why + ", and no port after it is free: give --port")
		}
	}
	note = fmt.Sprintf("%s: the restored server listens on port %d, socket in %s (give --port to choose)", why, port, sockDir)
	if sockDir == dir {
		return port, note, nil
	}
	q, _ := server.QuoteConf(sockDir)
	text := fmt.Sprintf("# written by logship restore\nport = %d\nunix_socket_directories = %s\n", port, q)
	return 0, note, server.AppendConf(dir, "postgresql.auto.conf", text)
}

// socketDirs are the server's unix_socket_directories; unset, the
// packaged default and the upstream one.
func socketDirs(conf map[string]string) []string {
	v, ok := conf["unix_socket_directories"]
	if !ok {
		return []string{"/var/run/postgresql", "/tmp"}
	}
	var out []string
	for _, d := range strings.Split(v, ",") {
		if d = strings.TrimSpace(d); d != "" && !strings.HasPrefix(d, "@") { // @: Linux abstract namespace
			out = append(out, d)
		}
	}
	return out
}

func firstMissingDir(dirs []string) string {
	for _, d := range dirs {
		if fi, err := os.Stat(d); err != nil || !fi.IsDir() {
			return d
		}
	}
	return ""
}

// portInUse says whether a server on this host listens on port, on TCP
// (any address) or as a socket in one of dirs.
func portInUse(port int, dirs []string) bool {
	l, err := net.Listen("tcp", ":"+strconv.Itoa(port))
	if err != nil {
		return true
	}
	l.Close()
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, ".s.PGSQL."+strconv.Itoa(port))); err == nil {
			return true
		}
	}
	return false
}

// listenSettings reads back where the restored server will listen, for
// the output.
func listenSettings(dir string) (port int, socketDir string) {
	conf, _ := server.ReadConf(dir)
	port, err := strconv.Atoi(conf["port"])
	if err != nil {
		port = 5432
	}
	if dirs := socketDirs(conf); len(dirs) > 0 {
		socketDir = dirs[0]
	}
	return port, socketDir
}
