package conns

import (
	"context"
	"testing"
	"time"
)

func TestFramesRefuseThenCloseAFlood(t *testing.T) {
	t0 := time.Unix(1000, 0)
	f := NewFrames(20, 40, t0)
	// A one-off burst of 200: the burst is allowed, the next 40 refused, the rest paced.
	var got [4]int
	for i := 0; i < 200; i++ {
		got[f.Check(t0)]++
	}
	if got[Allow] != 40 || got[Refuse] != 40 || got[Pace] != 120 || got[Close] != 0 {
		t.Fatalf("allowed %d, refused %d, paced %d, closed %d", got[Allow], got[Refuse], got[Pace], got[Close])
	}
	// A sustained flood (500 frames/s) is closed in its third second.
	now, closedAt := t0, time.Duration(0)
	for i := 0; i < 5000 && closedAt == 0; i++ {
		now = now.Add(2 * time.Millisecond)
		if f.Check(now) == Close {
			closedAt = now.Sub(t0)
		}
	}
	if closedAt < 2*time.Second || closedAt > 3*time.Second {
		t.Fatalf("flood closed after %v, want in its third second", closedAt)
	}
	// A client slightly over the rate (25/s) is refused now and then, never closed.
	g := NewFrames(20, 40, t0)
	now = t0
	refused := 0
	for i := 0; i < 25*60; i++ {
		now = now.Add(40 * time.Millisecond)
		switch g.Check(now) {
		case Refuse:
			refused++
		case Close:
			t.Fatalf("closed at frame %d", i)
		}
	}
	if refused == 0 {
		t.Fatal("25 frames/s against 20/s was never refused")
	}
}

func TestCaps(t *testing.T) {
	c := NewCaps(2)
	r1, ok1 := c.Admit("10.0.0.1")
	_, ok2 := c.Admit("10.0.0.1")
	_, ok3 := c.Admit("10.0.0.1")
	_, other := c.Admit("10.0.0.2")
	if !ok1 || !ok2 || ok3 || !other {
		t.Fatalf("admit: %v %v %v %v", ok1, ok2, ok3, other)
	}
	r1()
	r1() // once only
	if _, ok := c.Admit("10.0.0.1"); !ok {
		t.Fatal("not admitted after a release")
	}
	if _, ok := c.Admit("10.0.0.1"); ok {
		t.Fatal("a double release freed two places")
	}
	if AddrKey("[::1]:5060") != "::1" || AddrKey("1.2.3.4:80") != "1.2.3.4" {
		t.Fatal("AddrKey")
	}
}

func TestBudgetPerAccount(t *testing.T) {
	now := time.Unix(1000, 0)
	b := NewBudget(10, 20, func() time.Time { return now })
	for i := 0; i < 20; i++ {
		if ok, _ := b.Take("flood", 1); !ok {
			t.Fatalf("take %d refused within the burst", i)
		}
	}
	ok, wait := b.Take("flood", 1)
	if ok || wait != 100*time.Millisecond {
		t.Fatalf("over budget: ok %v, retry after %v (want 100ms)", ok, wait)
	}
	if ok, _ := b.Take("quiet", 1); !ok {
		t.Fatal("one account's flood spent another's budget")
	}
	now = now.Add(time.Second)
	if ok, _ := b.Take("flood", 10); !ok {
		t.Fatal("the budget did not refill")
	}
	// work charged after the fact can put the account in debt, down to minus its burst
	b.Charge("flood", 1000)
	if ok, wait := b.Take("flood", 1); ok || wait != 2100*time.Millisecond {
		t.Fatalf("in debt: ok %v, retry after %v (want 2.1s: a debt of 20, the burst, and 1 unit at 10/s)", ok, wait)
	}
	var none *Budget
	if ok, _ := none.Take("x", 1e9); !ok || NewBudget(0, 0, nil) != nil {
		t.Fatal("a nil budget must allow everything")
	}
}

func TestBucket(t *testing.T) {
	now := time.Unix(1000, 0)
	b := NewBucket(20, 40, now)
	n := 0
	for b.Take(now, 1) {
		n++
	}
	if n != 40 {
		t.Fatalf("burst %d, want 40", n)
	}
	if b.Take(now.Add(49*time.Millisecond), 1) {
		t.Fatal("a token after 49ms at 20/s")
	}
	if !b.Take(now.Add(50*time.Millisecond), 1) {
		t.Fatal("no token after 50ms at 20/s")
	}
	// A long pause refills to the burst, not beyond.
	later := now.Add(time.Hour)
	n = 0
	for b.Take(later, 1) {
		n++
	}
	if n != 40 {
		t.Fatalf("refill %d, want 40", n)
	}
}

func TestFramesPaceWaitsForAToken(t *testing.T) {
	now := time.Now()
	f := NewFrames(1000, 1, now)
	f.Check(now) // the one token
	if !f.Pace(context.Background(), time.Now) {
		t.Fatal("no token after pacing")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	slow := NewFrames(0.001, 1, now)
	slow.Check(now)
	if slow.Pace(ctx, time.Now) {
		t.Fatal("paced past a cancelled context")
	}
}

func TestRetryIn(t *testing.T) {
	for _, c := range []struct {
		wait time.Duration
		want string
	}{
		{0, "retry in 1ms"},
		{300 * time.Microsecond, "retry in 1ms"},
		{time.Millisecond, "retry in 1ms"},
		{1200 * time.Microsecond, "retry in 2ms"},
		{40 * time.Millisecond, "retry in 40ms"},
		{1500 * time.Millisecond, "retry in 1.5s"},
	} {
		if got := RetryIn(c.wait); got != c.want {
			t.Errorf("RetryIn(%v) = %q, want %q", c.wait, got, c.want)
		}
	}
}
