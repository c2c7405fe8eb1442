package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynamosync/dynamosync/internal/fixture"
	"github.com/dynamosync/dynamosync/internal/testenv"
)

// The crash matrix: sizes and counts.
const (
	crashKills         = 20
	crashItemBytes     = 600
	crashStreamItems   = 4000 // the table with a stream, at the start
	crashNoStreamItems = 8000 // the table without a stream, at the start
	crashNewItems      = 4000 // a table with a stream new in a cycle
	crashSegments      = 4
	crashMaxAttempts   = 32 // kills in all, counting those outside their phase
	// A kill is "while writing" when the process wrote (write system calls
	// of any kind, the destination's above all) this shortly before it.
	crashWritingWindow = 5 * time.Millisecond
)

type crashPhase int

const (
	crashSnapshot crashPhase = iota
	crashStream
)

func (p crashPhase) String() string {
	if p == crashSnapshot {
		return "snapshot"
	}
	return "stream apply"
}

// crashModel tracks which items of a bulk table exist (by index, see
// fixture.BulkID) and which existed once and were deleted: the latter must
// be rows marked deleted once a sync is complete.
type crashModel struct {
	live    []int
	livePos map[int]int
	gone    []int
	gonePos map[int]int
	next    int // the next index never used
}

func crashNewModel(n int) *crashModel {
	m := &crashModel{livePos: map[int]int{}, gonePos: map[int]int{}, next: n}
	for i := range n {
		m.setLive(i)
	}
	return m
}

func crashRemove(list *[]int, pos map[int]int, id int) {
	i, ok := pos[id]
	if !ok {
		return
	}
	last := len(*list) - 1
	(*list)[i] = (*list)[last]
	pos[(*list)[i]] = i
	*list = (*list)[:last]
	delete(pos, id)
}

func (m *crashModel) setLive(id int) {
	crashRemove(&m.gone, m.gonePos, id)
	if _, ok := m.livePos[id]; !ok {
		m.livePos[id] = len(m.live)
		m.live = append(m.live, id)
	}
}

func (m *crashModel) setGone(id int) {
	crashRemove(&m.live, m.livePos, id)
	if _, ok := m.gonePos[id]; !ok {
		m.gonePos[id] = len(m.gone)
		m.gone = append(m.gone, id)
	}
}

func (m *crashModel) deletedKeys() []item {
	keys := make([]item, 0, len(m.gone))
	for _, id := range m.gone {
		keys = append(keys, crashKey(id))
	}
	return keys
}

func crashKey(id int) item { return item{"id": s(fixture.BulkID(id))} }

// crashValue is a value of a type that depends on the cycle, for an
// attribute new in that cycle (a new column).
func crashValue(cycle, id int) types.AttributeValue {
	switch cycle % 8 {
	case 0:
		return s(fmt.Sprintf("text %d", id))
	case 1:
		return n(fmt.Sprintf("%d.25", id))
	case 2:
		return &types.AttributeValueMemberBOOL{Value: id%2 == 0}
	case 3:
		return &types.AttributeValueMemberSS{Value: []string{"x", strconv.Itoa(id)}}
	case 4:
		return &types.AttributeValueMemberNS{Value: []string{"1", strconv.Itoa(id)}}
	case 5:
		return &types.AttributeValueMemberL{Value: []types.AttributeValue{s("a"), n(strconv.Itoa(id))}}
	case 6:
		return &types.AttributeValueMemberM{Value: item{"k": n(strconv.Itoa(cycle)), "v": s("é\u00a0" + strconv.Itoa(id))}}
	default:
		return &types.AttributeValueMemberB{Value: []byte{byte(id), 0, byte(cycle)}}
	}
}

// crashItem is a new version of item id written in cycle: a different
// amount and revision, now and then an attribute less, a new attribute or
// an attribute of another type.
func crashItem(rng *rand.Rand, id, cycle int) item {
	it := fixture.BulkItem(id, crashItemBytes)
	it["rev"] = n(strconv.Itoa(cycle))
	it["amount"] = n(fmt.Sprintf("%d.%02d", rng.IntN(1000000), rng.IntN(100)))
	switch rng.IntN(25) {
	case 0:
		delete(it, "tags")
	case 1:
		it[fmt.Sprintf("c%02d", cycle)] = crashValue(cycle, id)
	case 2:
		it["active"] = s("perhaps") // was BOOL
	case 3:
		it["note"] = s(strings.Repeat("ü", 1+rng.IntN(40)))
	}
	return it
}

// crashWorkload changes the model by up to updates, deletes and inserts of
// distinct items (a third of the inserts re-create deleted items) and
// returns the writes, in random order.
func crashWorkload(rng *rand.Rand, m *crashModel, cycle, updates, deletes, inserts int) []types.WriteRequest {
	live := slices.Clone(m.live)
	rng.Shuffle(len(live), func(i, j int) { live[i], live[j] = live[j], live[i] })
	gone := slices.Clone(m.gone)
	rng.Shuffle(len(gone), func(i, j int) { gone[i], gone[j] = gone[j], gone[i] })
	updates = min(updates, len(live))
	deletes = min(deletes, len(live)-updates)
	var reqs []types.WriteRequest
	put := func(id int) {
		reqs = append(reqs, types.WriteRequest{PutRequest: &types.PutRequest{Item: crashItem(rng, id, cycle)}})
		m.setLive(id)
	}
	for _, id := range live[:updates] {
		put(id)
	}
	for _, id := range live[updates : updates+deletes] {
		reqs = append(reqs, types.WriteRequest{DeleteRequest: &types.DeleteRequest{Key: crashKey(id)}})
		m.setGone(id)
	}
	recreate := min(inserts/3, len(gone))
	for _, id := range gone[:recreate] {
		put(id)
	}
	for range inserts - recreate {
		put(m.next)
		m.next++
	}
	rng.Shuffle(len(reqs), func(i, j int) { reqs[i], reqs[j] = reqs[j], reqs[i] })
	return reqs
}

// crashBackground writes single items to table, one after the other, until
// stop is closed: updates, deletes, inserts, re-created items and items
// created and deleted at once. It returns how many writes it made.
func crashBackground(ctx context.Context, client *dynamodb.Client, table string, m *crashModel, rng *rand.Rand, cycle int, stop <-chan struct{}) (int, error) {
	putItem := func(id int) error {
		_, err := client.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table), Item: crashItem(rng, id, cycle)})
		if err == nil {
			m.setLive(id)
		}
		return err
	}
	delItem := func(id int) error {
		_, err := client.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(table), Key: crashKey(id)})
		if err == nil {
			m.setGone(id)
		}
		return err
	}
	writes := 0
	for {
		select {
		case <-stop:
			return writes, nil
		case <-time.After(2 * time.Millisecond):
		}
		var err error
		switch op := rng.IntN(10); {
		case op < 4 && len(m.live) > 0:
			err = putItem(m.live[rng.IntN(len(m.live))])
		case op < 6 && len(m.live) > 0:
			err = delItem(m.live[rng.IntN(len(m.live))])
		case op < 8:
			err = putItem(m.next)
			m.next++
		case op < 9 && len(m.gone) > 0:
			err = putItem(m.gone[rng.IntN(len(m.gone))])
		default:
			id := m.next
			m.next++
			if err = putItem(id); err == nil {
				writes++
				err = delItem(id)
			}
		}
		if err != nil {
			return writes, err
		}
		writes++
	}
}

// crashProc is a run of the binary that the matrix may kill.
type crashProc struct {
	cmd            *exec.Cmd
	stdout, stderr bytes.Buffer
	done           chan struct{}
	start          time.Time
}

func crashStart(t *testing.T, dir string, args ...string) *crashProc {
	t.Helper()
	p := &crashProc{done: make(chan struct{})}
	p.cmd = exec.Command(binary, args...)
	p.cmd.Dir = dir
	p.cmd.Stdout, p.cmd.Stderr = &p.stdout, &p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p.start = time.Now()
	go func() {
		_ = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		<-p.done
	})
	return p
}

// crashObs is what the matrix sees of a running sync.
type crashObs struct {
	elapsed time.Duration
	// Requests answered by the proxy since the start.
	scans, records int
	// When the first Scan and GetRecords were answered (since the start);
	// -1 if not yet.
	firstScan, firstRecords time.Duration
	// How long ago the process last wrote (its wchar grew); -1 if unknown.
	wroteAgo time.Duration
}

// answers is the number of answers to op ("Scan" or "GetRecords") so far.
func (o crashObs) answers(op string) int {
	if op == "GetRecords" {
		return o.records
	}
	return o.scans
}

// crashWchar returns the bytes a process has written with any write system
// call (Linux /proc/PID/io), or -1.
func crashWchar(pid int) int64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/io", pid))
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "wchar:"); ok {
			w, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err != nil {
				return -1
			}
			return w
		}
	}
	return -1
}

// watch polls the process about every millisecond until until holds (it
// returns false) or the process exits (it returns true).
func (p *crashProc) watch(proxy *testenv.Proxy, until func(crashObs) bool) (crashObs, bool) {
	baseScans, baseRecords := proxy.Count("Scan"), proxy.Count("GetRecords")
	o := crashObs{firstScan: -1, firstRecords: -1, wroteAgo: -1}
	lastW := int64(-1)
	var lastWrite time.Time
	for {
		now := time.Now()
		o.elapsed = now.Sub(p.start)
		o.scans = proxy.Count("Scan") - baseScans
		o.records = proxy.Count("GetRecords") - baseRecords
		if o.scans > 0 && o.firstScan < 0 {
			o.firstScan = o.elapsed
		}
		if o.records > 0 && o.firstRecords < 0 {
			o.firstRecords = o.elapsed
		}
		if w := crashWchar(p.cmd.Process.Pid); w >= 0 {
			if lastW >= 0 && w > lastW {
				lastWrite = now
			}
			lastW = w
		}
		if !lastWrite.IsZero() {
			o.wroteAgo = now.Sub(lastWrite)
		}
		if until(o) {
			return o, false
		}
		select {
		case <-p.done:
			return o, true
		case <-time.After(time.Millisecond):
		}
	}
}

// kill sends SIGKILL and reports whether it killed the process (rather
// than finding it already exited).
func (p *crashProc) kill() bool {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
	ws, ok := p.cmd.ProcessState.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL
}

// crashLogged reports whether a JSON log has an INFO record with message
// msg for table. A killed process may leave a torn last line; it is
// skipped.
func crashLogged(log, msg, table string) bool {
	sc := bufio.NewScanner(strings.NewReader(log))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var r logRecord
		if json.Unmarshal(sc.Bytes(), &r) != nil {
			continue
		}
		if r.str("msg") == msg && r.str("table") == table {
			return true
		}
	}
	return false
}

// crashMoment is when a kill is sent, as a description and a condition.
type crashMoment struct {
	desc  string
	until func(crashObs) bool
}

// crashAfterCount kills d after the count-th answer to op.
func crashAfterCount(op string, count int, d time.Duration) crashMoment {
	met := time.Duration(-1)
	return crashMoment{
		desc: fmt.Sprintf("%dms after the %s answer #%d", d.Milliseconds(), op, count),
		until: func(o crashObs) bool {
			if o.answers(op) >= count && met < 0 {
				met = o.elapsed
			}
			return met >= 0 && o.elapsed-met >= d
		},
	}
}

// crashAtWrite kills as soon as the process writes (the destination's
// commit, as a rule) after the count-th answer to op.
func crashAtWrite(op string, count int) crashMoment {
	met := time.Duration(-1)
	return crashMoment{
		desc: fmt.Sprintf("the first write after the %s answer #%d", op, count),
		until: func(o crashObs) bool {
			if o.answers(op) >= count && met < 0 {
				met = o.elapsed
			}
			return met >= 0 && o.wroteAgo >= 0 && o.elapsed-o.wroteAgo > met
		},
	}
}

// crashAfterFirst kills d after the first answer to op.
func crashAfterFirst(op string, d time.Duration) crashMoment {
	return crashMoment{
		desc: fmt.Sprintf("%dms after the first %s answer", d.Milliseconds(), op),
		until: func(o crashObs) bool {
			first := o.firstScan
			if op == "GetRecords" {
				first = o.firstRecords
			}
			return first >= 0 && o.elapsed-first >= d
		},
	}
}

// crashAfterStart kills d after the process started.
func crashAfterStart(d time.Duration) crashMoment {
	return crashMoment{
		desc:  fmt.Sprintf("%dms after the start", d.Milliseconds()),
		until: func(o crashObs) bool { return o.elapsed >= d },
	}
}

// crashUniform is a duration uniform in [lo, hi].
// crashPick picks a moment while answers to op (of which the killed sync
// is expected to need about answers, the first toFirst after the start,
// the rest over span) are coming in: a few milliseconds after the n-th, at
// the first write after the n-th, a random time after the first, or a
// random time after the start.
func crashPick(rng *rand.Rand, op string, answers int, toFirst, span time.Duration) crashMoment {
	count := 1 + rng.IntN(max(answers-1, 1))
	switch rng.IntN(4) {
	case 0:
		return crashAfterCount(op, count, crashUniform(rng, 0, 20*time.Millisecond))
	case 1:
		return crashAtWrite(op, count)
	case 2:
		return crashAfterFirst(op, crashUniform(rng, 0, span*85/100))
	default:
		return crashAfterStart(crashUniform(rng, toFirst, toFirst+span*85/100))
	}
}

func crashUniform(rng *rand.Rand, lo, hi time.Duration) time.Duration {
	if hi <= lo {
		return lo
	}
	return lo + time.Duration(rng.Int64N(int64(hi-lo)+1))
}

// crashCalibration is what the uninterrupted runs showed: how long a run
// takes to its first Scan or GetRecords answer, how long it then reads,
// and how many requests that takes.
type crashCalibration struct {
	toScan, scanFor           time.Duration
	scansStream, scansNoStr   int
	toRecords, recordsFor     time.Duration
	records, recordsOfChanges int
}

// crashTable is one table of the matrix.
type crashTable struct {
	name  string
	label string
	model *crashModel
}

// TestCrashMatrix kills the binary with SIGKILL at 20 random moments, about
// half while snapshots are being written and half while stream changes are
// being applied; after each kill a sync runs to completion and the
// destination is compared with DynamoDB value by value (deleted items are
// rows marked deleted): it must be exact every time.
//
// Two tables: one with a NEW_AND_OLD_IMAGES stream, one without (every
// sync of it is a snapshot that marks rows it does not see as deleted).
// Before a snapshot kill, both tables change, and while the killed sync
// runs, single writes keep changing the table with a stream; every other
// time a new table with a stream joins the sync, so that its first
// snapshot (and the single writes) are interrupted too. (Disabling and
// enabling a stream again would snapshot the table again, but makes
// DynamoDB Local's writes several times slower each time.) Before a
// stream kill, a few thousand changes are written to the table with a
// stream. Kills land a random time after the start, after the first Scan
// or GetRecords answer, a few milliseconds after the n-th, or at the first
// write (of a commit, as a rule) after the n-th; the commit size varies.
// The seed is logged; DYNAMOSYNC_CRASH_SEED repeats it (timing still
// varies).
func TestCrashMatrix(t *testing.T) {
	t.Parallel() // with its own DynamoDB Local, beside the other parallel tests
	started := time.Now()
	ctx := testenv.Context(t, 10*time.Minute)
	endpoint := testenv.OwnDynamoDBEndpoint(t) // see OwnDynamoDBEndpoint
	client := testenv.DynamoDBClientAt(endpoint)
	seed := uint64(time.Now().UnixNano())
	if v := os.Getenv("DYNAMOSYNC_CRASH_SEED"); v != "" {
		var err error
		if seed, err = strconv.ParseUint(v, 10, 64); err != nil {
			t.Fatalf("DYNAMOSYNC_CRASH_SEED: %v", err)
		}
	}
	t.Logf("seed %d (DYNAMOSYNC_CRASH_SEED=%d repeats it)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))

	prefix := testenv.UniqueName(t, "crash")
	st := &crashTable{name: prefix + ".stream", label: "stream", model: crashNewModel(crashStreamItems)}
	ns := &crashTable{name: prefix + ".nostream", label: "nostream", model: crashNewModel(crashNoStreamItems)}
	if err := fixture.LoadBulk(ctx, client, st.name, crashStreamItems, crashItemBytes, 8); err != nil {
		t.Fatal(err)
	}
	if err := fixture.LoadBulk(ctx, client, ns.name, crashNoStreamItems, crashItemBytes, 8); err != nil {
		t.Fatal(err)
	}
	setStream(t, ctx, client, st.name, true)
	t.Logf("loaded %d + %d items of %d bytes in %s", crashStreamItems, crashNoStreamItems, crashItemBytes, time.Since(started).Round(time.Millisecond))

	proxy := testenv.NewProxy(t, endpoint)
	dir := t.TempDir()
	w := duckWarehouse(t.TempDir())
	configure := func(tables string) {
		cfg := w.config(baseConfig(t, proxy.URL, tables, w.dest))
		cfg["TOTAL_SEGMENTS"] = crashSegments
		writeConfig(t, dir, cfg)
	}
	syncArgs := func(commit int) []string {
		return []string{"sync", "--log-format", "json", "--progress", "none", "--commit-changes", strconv.Itoa(commit)}
	}
	compare := func(tables ...*crashTable) string {
		t.Helper()
		db := w.open(t)
		defer db.Close()
		var parts []string
		for _, tb := range tables {
			items, deleted := compareTable(t, ctx, client, db, w.schema, tb.name, tb.model.deletedKeys())
			if len(deleted) != len(tb.model.gone) {
				t.Errorf("table %s: %d rows marked deleted, want %d", tb.name, len(deleted), len(tb.model.gone))
			}
			if items != len(tb.model.live) {
				t.Errorf("table %s: DynamoDB has %d items, the test expects %d", tb.name, items, len(tb.model.live))
			}
			parts = append(parts, fmt.Sprintf("%s %d items + %d deleted rows", tb.label, items, len(deleted)))
		}
		return strings.Join(parts, ", ")
	}
	// runToEnd runs a sync that is not killed and reports how it went.
	runToEnd := func(what string, commit int) crashObs {
		t.Helper()
		p := crashStart(t, dir, syncArgs(commit)...)
		o, _ := p.watch(proxy, func(crashObs) bool { return false })
		if code := p.cmd.ProcessState.ExitCode(); code != 0 {
			t.Fatalf("%s: exit %d\n%s\n%s", what, code, p.stdout.String(), p.stderr.String())
		}
		return o
	}
	scansOf := func(from int, table string) int {
		c := 0
		for _, r := range proxy.Requests()[from:] {
			if r.Operation == "Scan" && r.TableName == table {
				c++
			}
		}
		return c
	}

	// Calibration: a first sync (snapshots of both tables), then a sync of
	// a backlog of stream changes, both uninterrupted and exact.
	var cal crashCalibration
	configure(prefix + ".*")
	from := len(proxy.Requests())
	o := runToEnd("first sync", 20000)
	cal.toScan, cal.scanFor = o.firstScan, o.elapsed-o.firstScan
	cal.scansStream, cal.scansNoStr = scansOf(from, st.name), scansOf(from, ns.name)
	t.Logf("calibration: snapshots of both tables in %s (first Scan answer after %s, %d + %d Scan requests); %s",
		o.elapsed.Round(time.Millisecond), o.firstScan.Round(time.Millisecond), cal.scansStream, cal.scansNoStr, compare(st, ns))
	cal.recordsOfChanges = 3000
	writeAll(t, ctx, client, st.name, crashWorkload(rng, st.model, 0, 1500, 450, 1050), 4)
	configure(st.name)
	o = runToEnd("stream sync", 20000)
	cal.toRecords, cal.recordsFor, cal.records = o.firstRecords, o.elapsed-o.firstRecords, o.records
	t.Logf("calibration: %d stream changes applied in %s (first GetRecords answer after %s, %d GetRecords requests); %s",
		cal.recordsOfChanges, o.elapsed.Round(time.Millisecond), o.firstRecords.Round(time.Millisecond), cal.records, compare(st))
	if t.Failed() {
		t.FailNow()
	}
	if cal.toScan < 0 || cal.toRecords < 0 {
		t.Fatalf("calibration saw no Scan or GetRecords answer: %+v", cal)
	}

	// About half of the kills in each phase, in random order.
	schedule := make([]crashPhase, crashKills)
	for i := range schedule {
		schedule[i] = crashPhase(i % 2)
	}
	rng.Shuffle(len(schedule), func(i, j int) { schedule[i], schedule[j] = schedule[j], schedule[i] })

	var landed, exact, writing, outside int
	byPhase := map[crashPhase]int{}
	fresh := false
	for attempt := 1; landed < crashKills; attempt++ {
		if attempt > crashMaxAttempts {
			t.Fatalf("only %d of %d kills landed in their phase after %d attempts", landed, crashKills, crashMaxAttempts)
		}
		phase := schedule[landed]
		cycle := attempt
		commit := []int{100, 1000, 5000, 20000}[rng.IntN(4)]
		var tables []*crashTable
		var moment crashMoment
		var changes int // stream changes the killed sync had to apply (stream phase)
		work := time.Now()
		stop := make(chan struct{})
		background := make(chan error, 1)
		var bgWrites int
		var busy *crashTable // the table single writes change during the killed sync
		note := ""
		switch phase {
		case crashSnapshot:
			fresh = !fresh
			tables = []*crashTable{st, ns}
			writeAll(t, ctx, client, ns.name, crashWorkload(rng, ns.model, cycle, 1000, 300, 600), 4)
			writeAll(t, ctx, client, st.name, crashWorkload(rng, st.model, cycle, 400, 100, 300), 4)
			span := cal.scanFor * time.Duration(cal.scansNoStr) / time.Duration(cal.scansStream+cal.scansNoStr)
			scans := cal.scansNoStr
			busy = st
			if fresh {
				// A new table with a stream: its first snapshot, then its
				// stream, while single writes change it.
				nt := &crashTable{name: fmt.Sprintf("%s.new-%02d", prefix, attempt), label: "new", model: crashNewModel(crashNewItems)}
				if err := fixture.LoadBulk(ctx, client, nt.name, crashNewItems, crashItemBytes, 8); err != nil {
					t.Fatal(err)
				}
				setStream(t, ctx, client, nt.name, true)
				tables = append(tables, nt)
				busy = nt
				span, scans = cal.scanFor, cal.scansStream+cal.scansNoStr
				note = ", a new table with a stream"
			}
			names := make([]string, len(tables))
			for i, tb := range tables {
				names[i] = tb.name
			}
			configure(strings.Join(names, ","))
			moment = crashPick(rng, "Scan", scans, cal.toScan, span)
		case crashStream:
			tables = []*crashTable{st}
			changes = 2500 + rng.IntN(2501)
			updates, deletes := changes/2, changes*15/100
			writeAll(t, ctx, client, st.name, crashWorkload(rng, st.model, cycle, updates, deletes, changes-updates-deletes), 4)
			configure(st.name)
			span := cal.recordsFor * time.Duration(changes) / time.Duration(cal.recordsOfChanges)
			pages := cal.records * changes / cal.recordsOfChanges
			moment = crashPick(rng, "GetRecords", pages, cal.toRecords, span)
		}
		workFor := time.Since(work)

		p := crashStart(t, dir, syncArgs(commit)...)
		if phase == crashSnapshot {
			bgRng := rand.New(rand.NewPCG(rng.Uint64(), rng.Uint64()))
			go func() {
				var err error
				bgWrites, err = crashBackground(ctx, client, busy.name, busy.model, bgRng, cycle, stop)
				background <- err
			}()
		} else {
			background <- nil
		}
		o, exited := p.watch(proxy, moment.until)
		killed := !exited && p.kill()
		walBytes := int64(-1)
		if fi, err := os.Stat(w.dest + ".wal"); err == nil {
			walBytes = fi.Size()
		}
		close(stop)
		if err := <-background; err != nil {
			t.Fatalf("writes during the killed sync: %v", err)
		}
		if !killed {
			t.Logf("attempt %d (%s, %s): the sync finished before the moment (%s after the start, exit %d)",
				attempt, phase, moment.desc, o.elapsed.Round(time.Millisecond), p.cmd.ProcessState.ExitCode())
		}
		wrote := o.wroteAgo >= 0 && o.wroteAgo <= crashWritingWindow

		r := run(t, ctx, dir, syncArgs(commit)...)
		if r.code != 0 {
			t.Fatalf("attempt %d: sync after the kill: exit %d\n%s\n%s", attempt, r.code, r.stdout, r.stderr)
		}
		var read []string
		for _, tb := range tables {
			row := summaryLine(t, r.stdout, tb.name)
			read = append(read, fmt.Sprintf("%s %d items, %d upserts, %d deletes (%s)",
				tb.label, row.items, row.upserts, row.deletes, summaryStatus(t, r.stdout, tb.name)))
		}
		inPhase := false
		switch phase {
		case crashSnapshot:
			// A snapshot was being written: Scan answers had come and the
			// table without a stream (snapshotted by every sync) had not
			// completed its snapshot.
			inPhase = killed && o.scans > 0 && !crashLogged(p.stderr.String(), "snapshot completed", ns.name)
		case crashStream:
			row := summaryLine(t, r.stdout, st.name)
			if row.items != 0 || row.segments != "-" {
				t.Errorf("attempt %d: the sync after a kill during stream apply snapshotted the table: %+v", attempt, row)
			}
			applied := row.upserts + row.deletes
			if applied > changes {
				t.Errorf("attempt %d: the sync after the kill applied %d changes, more than the %d written", attempt, applied, changes)
			}
			inPhase = killed && o.records > 0 && applied > 0
			read = append(read, fmt.Sprintf("%d of the %d changes left to it", applied, changes))
		}
		result := compare(tables...)
		if t.Failed() {
			t.Fatalf("attempt %d (%s, %s, commit %d, seed %d): NOT exact after the kill: %s", attempt, phase, moment.desc, commit, seed, result)
		}
		if !killed {
			continue
		}
		at := fmt.Sprintf("killed %s after the start, %d Scan / %d GetRecords answered, wrote %s before, WAL %d KB",
			o.elapsed.Round(time.Millisecond), o.scans, o.records, crashAgo(o.wroteAgo), walBytes>>10)
		if !inPhase {
			outside++
			t.Logf("attempt %d (%s, %s): landed outside the phase, not counted: %s; restarted sync read: %s; exact: %s",
				attempt, phase, moment.desc, at, strings.Join(read, "; "), result)
			continue
		}
		landed++
		exact++ // a difference would have ended the test above
		byPhase[phase]++
		if wrote {
			writing++
		}
		if phase == crashSnapshot {
			note = fmt.Sprintf("%s, %d single writes to %s during the run", note, bgWrites, busy.label)
		}
		t.Logf("kill %2d/%d [%s] at %s (commit %d%s, workload %s): %s; restarted sync read: %s; exact: %s",
			landed, crashKills, phase, moment.desc, commit, note, workFor.Round(time.Millisecond), at, strings.Join(read, "; "), result)
	}
	t.Logf("%d kills: %d during snapshot, %d during stream apply, %d exact", landed, byPhase[crashSnapshot], byPhase[crashStream], exact)
	t.Logf("of these, %d while the process was writing (within %s of the kill); %d further kills landed outside their phase (exact too); seed %d; %s in all",
		writing, crashWritingWindow, outside, seed, time.Since(started).Round(time.Second))
}

func crashAgo(d time.Duration) string {
	if d < 0 {
		return "never"
	}
	return d.Round(100 * time.Microsecond).String()
}
