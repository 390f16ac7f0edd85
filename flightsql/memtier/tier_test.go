package memtier

import (
	"fmt"
	"sync"
	"testing"
)

func TestAdmitEvictsLeastRecentlyUsed(t *testing.T) {
	tier := New(100)
	var evicted []string
	evict := func(key string) func() { return func() { evicted = append(evicted, key) } }
	for _, key := range []string{"a", "b", "c"} {
		if !tier.Admit(key, 30, evict(key)) {
			t.Fatalf("Admit(%q, 30) refused under a budget of 100", key)
		}
	}
	tier.Touch("a") // b is now the least recently used
	if !tier.Admit("d", 30, evict("d")) {
		t.Fatal("Admit(d) refused")
	}
	if got := fmt.Sprint(evicted); got != "[b]" {
		t.Fatalf("evicted %s, want [b]", got)
	}
	if got := tier.Used(); got != 90 {
		t.Fatalf("Used() = %d, want 90", got)
	}
}

func TestAdmitRefusesWhatCannotFit(t *testing.T) {
	tier := New(100)
	evicted := 0
	tier.Admit("a", 60, func() { evicted++ })
	if tier.Admit("huge", 101, nil) {
		t.Fatal("Admit of 101 bytes under a budget of 100 succeeded")
	}
	if evicted != 0 || tier.Used() != 60 {
		t.Fatalf("a refused admission evicted %d entries, used %d; want 0 and 60", evicted, tier.Used())
	}
	if New(0).Admit("a", 1, nil) || New(0).Enabled() {
		t.Fatal("a zero budget admitted an entry")
	}
	var off *Tier
	if off.Enabled() || off.Admit("a", 1, nil) || off.Remove("a") || off.Used() != 0 {
		t.Fatal("a nil tier is not off")
	}
	off.Touch("a")
}

func TestReplaceAndRemove(t *testing.T) {
	tier := New(100)
	evicted := 0
	tier.Admit("a", 40, func() { evicted++ })
	tier.Admit("a", 50, func() { evicted += 10 })
	if evicted != 1 || tier.Used() != 50 {
		t.Fatalf("replacing a: evicted=%d used=%d, want 1 and 50", evicted, tier.Used())
	}
	if !tier.Remove("a") || tier.Used() != 0 || evicted != 1 {
		t.Fatalf("Remove(a): used=%d evicted=%d, want 0 and 1 (Remove does not evict)", tier.Used(), evicted)
	}
	if tier.Remove("a") {
		t.Fatal("Remove of a removed key reported true")
	}
}

func TestConcurrentUseStaysWithinBudget(t *testing.T) {
	tier := New(1000)
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 500; i++ {
				key := fmt.Sprintf("k%d", (g*7+i)%40)
				tier.Admit(key, int64(10+i%90), func() {})
				tier.Touch(key)
				if i%5 == 0 {
					tier.Remove(key)
				}
				if used := tier.Used(); used > tier.Max() {
					t.Errorf("Used() = %d above the budget %d", used, tier.Max())
					return
				}
			}
		}(g)
	}
	wg.Wait()
}
