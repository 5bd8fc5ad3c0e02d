package app

import (
	"net/http"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"
)

// BenchmarkHealthzDuringSignInBurst measures /healthz while 200 sign-ins from 200 addresses
// (so the throttle lets every one be verified) queue for the password verifier; "unlimited"
// lets every verification run at once, as before the limit, for comparison. Run it once:
//
//	go test ./app -run '^$' -bench HealthzDuringSignInBurst -benchtime 1x
func BenchmarkHealthzDuringSignInBurst(b *testing.B) {
	b.Run("limited", benchmarkHealthzDuringSignInBurst)
	b.Run("unlimited", func(b *testing.B) {
		saved := passwordVerifications
		passwordVerifications = &passwordVerifier{slots: make(chan struct{}, 1000)}
		defer func() { passwordVerifications = saved }()
		benchmarkHealthzDuringSignInBurst(b)
	})
}

func benchmarkHealthzDuringSignInBurst(b *testing.B) {
	e := newAdminEnv(b, adminEnvOptions{configure: func(c *Config) { c.OnFly = true }})
	const burst = 200
	var latencies []time.Duration
	var checks, timeouts int64
	var mu sync.Mutex
	statuses := map[int]int{}
	b.ResetTimer()
	for range b.N {
		before := passwordVerifications.checks.Load()
		var wg sync.WaitGroup
		for i := range burst {
			wg.Add(1)
			go func() {
				defer wg.Done()
				h := http.Header{"Fly-Client-Ip": {"10.1." + strconv.Itoa(i/250) + "." + strconv.Itoa(i%250+1)}}
				r := postSignIn(e, e.client(), "user"+strconv.Itoa(i)+"@example.com", "wrong password", h)
				mu.Lock()
				statuses[r.status]++
				mu.Unlock()
			}()
		}
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		probe := &http.Client{Timeout: 10 * time.Second}
	loop:
		for {
			select {
			case <-done:
				break loop
			case <-time.After(20 * time.Millisecond):
			}
			start := time.Now()
			resp, err := probe.Get(e.url + "/healthz")
			if err != nil {
				timeouts++ // counted at the client's 10 s limit
			} else {
				resp.Body.Close()
			}
			latencies = append(latencies, time.Since(start))
		}
		checks += passwordVerifications.checks.Load() - before
	}
	b.StopTimer()
	if len(latencies) == 0 {
		b.Fatal("no /healthz probe ran during the burst")
	}
	b.Logf("sign-in statuses %v", statuses)
	slices.Sort(latencies)
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	b.ReportMetric(float64(checks)/float64(b.N), "verifications/burst")
	b.ReportMetric(ms(latencies[len(latencies)/2]), "healthz-p50-ms")
	b.ReportMetric(ms(latencies[len(latencies)*99/100]), "healthz-p99-ms")
	b.ReportMetric(ms(latencies[len(latencies)-1]), "healthz-max-ms")
	b.ReportMetric(float64(len(latencies)), "probes")
	b.ReportMetric(float64(timeouts), "probe-timeouts")
}
