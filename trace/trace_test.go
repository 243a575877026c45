package trace_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"cacheworkshop/trace"
)

func TestServerTiming(t *testing.T) {
	tr := trace.New()
	tr.Cache(trace.Lookup{Layer: "page", Backend: "memory", Key: "page:list:p=1", Outcome: trace.Hit, Dur: 1500 * time.Microsecond})
	tr.Cache(trace.Lookup{Layer: "frag", Backend: "Redis", Key: `x"y\z` + "\n", Outcome: "WAITED", Dur: 20 * time.Microsecond})
	tr.Cache(trace.Lookup{Layer: "gen", Backend: "memory", Outcome: trace.Miss})
	tr.DB(2 * time.Millisecond)
	tr.Simulated(300 * time.Millisecond)
	tr.Render(250 * time.Microsecond)

	sum := tr.Summary()
	if sum.Lookups != 3 || sum.DBCount != 1 {
		t.Fatalf("Summary: got %d lookups, %d queries, want 3, 1", sum.Lookups, sum.DBCount)
	}
	got := string(tr.AppendServerTiming([]byte("prefix "), sum))
	want := `prefix cache;desc="memory hit page:list:p=1";dur=1.500, ` +
		`frag;desc="Redis waited x_y_z_";dur=0.020, ` +
		`gen;desc="memory miss";dur=0.000, ` +
		`db;desc="1 query";dur=2.000, sim;desc="simulated latency";dur=300.00, render;dur=0.250, total;dur=` +
		trace.Millis(sum.Total)
	if got != want {
		t.Errorf("AppendServerTiming:\ngot  %s\nwant %s", got, want)
	}
	snap := tr.Snapshot()
	snap.Total = sum.Total
	if st := snap.ServerTiming(); "prefix "+st != got {
		t.Errorf("Snapshot.ServerTiming: got %q, want %q", st, strings.TrimPrefix(got, "prefix "))
	}
	if snap.Summary != sum {
		t.Errorf("Snapshot.Summary: got %+v, want %+v", snap.Summary, sum)
	}
}

func TestNilTrace(t *testing.T) {
	tr := trace.From(context.Background())
	if tr != nil {
		t.Fatalf("From(empty context): got %v, want nil", tr)
	}
	tr.Cache(trace.Lookup{Key: "k"})
	tr.DB(time.Second)
	if got := tr.Summary(); got != (trace.Summary{}) {
		t.Errorf("nil Summary: got %+v, want zero", got)
	}
	if got, want := string(tr.AppendServerTiming(nil, trace.Summary{})), `db;desc="0 queries";dur=0.000, render;dur=0.000, total;dur=0.000`; got != want {
		t.Errorf("nil AppendServerTiming: got %q, want %q", got, want)
	}
}

func TestContext(t *testing.T) {
	tr := trace.New()
	if got := trace.From(trace.NewContext(context.Background(), tr)); got != tr {
		t.Errorf("From(NewContext(tr)): got %p, want %p", got, tr)
	}
}

func TestAppendMillis(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{0, "0.000"}, {-time.Second, "0.000"}, {999 * time.Nanosecond, "0.000"}, {12 * time.Microsecond, "0.012"},
		{1234567 * time.Nanosecond, "1.234"}, {9999 * time.Microsecond, "9.999"}, {10 * time.Millisecond, "10.00"},
		{12345 * time.Microsecond, "12.34"}, {2 * time.Second, "2000.00"},
	}
	for _, tt := range tests {
		if got := trace.Millis(tt.d); got != tt.want {
			t.Errorf("Millis(%v): got %q, want %q", tt.d, got, tt.want)
		}
	}
}

func TestCount(t *testing.T) {
	tr := trace.New()
	tr.Cache(trace.Lookup{Layer: "page", Backend: "memory", Key: "a", Outcome: trace.Hit})
	tr.Cache(trace.Lookup{Layer: "frag", Backend: "redis", Key: "b", Outcome: trace.Miss})
	var got []string
	tr.Count(func(layer, backend, outcome string) { got = append(got, layer+"/"+backend+"/"+outcome) })
	if want := []string{"page/memory/HIT", "frag/redis/MISS"}; strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("Count: got %v, want %v", got, want)
	}
	var nilTrace *trace.Trace
	nilTrace.Count(func(string, string, string) { t.Error("Count on a nil trace called f") })
}
