package app

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/technifold/technifold/store"
)

func TestGuessThrottleReservesBeforeTheCheck(t *testing.T) {
	th := newGuessThrottle(15 * time.Minute)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	addr := attemptLimit{key: "address:10.0.0.1", limit: 3}
	acct := func(n int) attemptLimit { return attemptLimit{key: "account:" + strconv.Itoa(n), limit: 2} }

	// Reservations count while in flight: the window is full before any check has failed.
	a1, _ := th.reserve(now, addr, acct(1))
	a2, _ := th.reserve(now, addr, acct(1))
	if a1 == nil || a2 == nil {
		t.Fatal("the first two attempts must get slots")
	}
	if a, wait := th.reserve(now, addr, acct(1)); a != nil || wait != 15*time.Minute {
		t.Fatalf("third attempt on a full account window: %v, wait %s", a, wait)
	}
	// A refused attempt takes no slot anywhere: the address still has one left.
	a3, _ := th.reserve(now, addr, acct(2))
	if a3 == nil {
		t.Fatal("the address window must still have room")
	}
	if a, _ := th.reserve(now, addr, acct(3)); a != nil {
		t.Fatal("the address window is full after three reservations")
	}
	// A success gives its slots back in both windows.
	a2.release()
	if a, _ := th.reserve(now.Add(time.Minute), addr, acct(1)); a == nil {
		t.Fatal("a released slot must be free again")
	}
	// Slots expire with the window; Retry-After counts from the oldest slot.
	if _, wait := th.reserve(now.Add(10*time.Minute), addr, acct(4)); wait != 5*time.Minute {
		t.Fatalf("wait %s, want 5m", wait)
	}
	if a, _ := th.reserve(now.Add(15*time.Minute), addr, acct(4)); a == nil {
		t.Fatal("slots older than the window must be freed")
	}
}

// signInResult is one concurrent sign-in's outcome.
type signInResult struct {
	status     int
	retryAfter string
	session    bool
}

// postSignIn posts the sign-in form from c, as a same-origin browser.
func postSignIn(e *adminEnv, c *http.Client, email, password string, header http.Header) signInResult {
	form := url.Values{"email": {email}, "password": {password}}
	req, _ := http.NewRequest(http.MethodPost, e.url+"/admin/login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := c.Do(req)
	if err != nil {
		return signInResult{status: -1}
	}
	defer resp.Body.Close()
	res := signInResult{status: resp.StatusCode, retryAfter: resp.Header.Get("Retry-After")}
	for _, ck := range resp.Cookies() {
		if ck.Name == adminCookie && ck.Value != "" {
			res.session = true
		}
	}
	return res
}

func TestSignInBurstVerifiesAtMostTheLimit(t *testing.T) {
	clock := &testClock{t: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}
	e := newAdminEnv(t, adminEnvOptions{clock: clock})
	e.addUser("ann@example.com", store.RoleAdmin, testPassword)
	const n, correct = 200, 137
	before := passwordVerifications.checks.Load()
	results := make([]signInResult, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pw := "wrong password " + strconv.Itoa(i)
			if i == correct {
				pw = testPassword
			}
			<-start
			results[i] = postSignIn(e, e.client(), "ann@example.com", pw, nil)
		}()
	}
	close(start)
	wg.Wait()

	counts := map[int]int{}
	sessions := 0
	for i, r := range results {
		counts[r.status]++
		if r.session {
			sessions++
			if i != correct || r.status != http.StatusSeeOther {
				t.Fatalf("attempt %d (status %d) got a session", i, r.status)
			}
		}
		if r.status == http.StatusTooManyRequests {
			if secs, err := strconv.Atoi(r.retryAfter); err != nil || secs <= 0 {
				t.Fatalf("429 with Retry-After %q", r.retryAfter)
			}
		}
	}
	checks := passwordVerifications.checks.Load() - before
	t.Logf("statuses %v, %d password verifications, %d sessions", counts, checks, sessions)
	// Five slots in the account's window; the correct attempt, if it got one, gives it back,
	// which may let one more wrong attempt in.
	if checks < signInsPerAccount || checks > signInsPerAccount+1 {
		t.Fatalf("%d password verifications, want %d (or %d when the correct one was among them)",
			checks, signInsPerAccount, signInsPerAccount+1)
	}
	if counts[http.StatusUnauthorized] > signInsPerAccount || counts[http.StatusTooManyRequests] < n-signInsPerAccount-1 {
		t.Fatalf("statuses %v: at most %d failures may be checked, the rest must get 429", counts, signInsPerAccount)
	}
	if int64(counts[http.StatusUnauthorized]+counts[http.StatusSeeOther]) != checks {
		t.Fatalf("statuses %v do not match %d verifications", counts, checks)
	}
	if results[correct].status == http.StatusTooManyRequests && sessions != 0 {
		t.Fatal("a session was issued past the limit")
	}
	var live int
	if err := e.db.Read().QueryRow(`SELECT count(*) FROM sessions`).Scan(&live); err != nil {
		t.Fatal(err)
	}
	if live != sessions {
		t.Fatalf("%d sessions stored, %d issued", live, sessions)
	}
	if failed := strings.Count(strings.Join(e.auditActions(), " "), "login.failed"); failed != counts[http.StatusUnauthorized] {
		t.Fatalf("%d login.failed audit rows for %d failures", failed, counts[http.StatusUnauthorized])
	}
}

func TestSignInBurstFromOneAddressAcrossAccounts(t *testing.T) {
	clock := &testClock{t: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}
	e := newAdminEnv(t, adminEnvOptions{clock: clock})
	const n = 150
	before := passwordVerifications.checks.Load()
	statuses := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			statuses[i] = postSignIn(e, e.client(), "user"+strconv.Itoa(i)+"@example.com", "wrong password", nil).status
		}()
	}
	wg.Wait()
	counts := map[int]int{}
	for _, s := range statuses {
		counts[s]++
	}
	if counts[http.StatusUnauthorized] != signInsPerAddress || counts[http.StatusTooManyRequests] != n-signInsPerAddress {
		t.Fatalf("statuses %v, want %d×401 and the rest 429", counts, signInsPerAddress)
	}
	if checks := passwordVerifications.checks.Load() - before; checks != signInsPerAddress {
		t.Fatalf("%d verifications, want %d", checks, signInsPerAddress)
	}
}

func TestThrottledSignInCostsNoWrite(t *testing.T) {
	clock := &testClock{t: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}
	e := newAdminEnv(t, adminEnvOptions{clock: clock})
	e.addUser("ann@example.com", store.RoleAdmin, testPassword)
	c := e.client()
	for range signInsPerAccount {
		if r := postSignIn(e, c, "ann@example.com", "wrong password", nil); r.status != http.StatusUnauthorized {
			t.Fatalf("status %d", r.status)
		}
	}
	_, before, _ := e.db.CommitStats()
	for range 20 {
		if r := postSignIn(e, c, "ann@example.com", "wrong password", nil); r.status != http.StatusTooManyRequests {
			t.Fatalf("status %d, want 429", r.status)
		}
	}
	if _, after, _ := e.db.CommitStats(); after != before {
		t.Fatalf("20 throttled sign-ins made %d write requests, want none", after-before)
	}
}

func TestDeviceCookieKeepsItsOwnAllowance(t *testing.T) {
	clock := &testClock{t: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}
	e := newAdminEnv(t, adminEnvOptions{clock: clock})
	e.addUser("ann@example.com", store.RoleAdmin, testPassword)
	e.addUser("bob@example.com", store.RoleStaff, testPassword)

	owner := e.login("ann@example.com", testPassword)
	u, _ := url.Parse(e.url + "/admin/login")
	var device *http.Cookie
	for _, ck := range owner.Jar.Cookies(u) {
		if ck.Name == deviceCookie {
			device = ck
		}
	}
	if device == nil {
		t.Fatal("a successful sign-in must set the device cookie")
	}
	resp := e.postForm(owner, "/admin/logout", url.Values{})
	resp.Body.Close()

	// A stranger uses up the account's anonymous allowance; even the right password is refused.
	stranger := e.client()
	for range signInsPerAccount {
		postSignIn(e, stranger, "ann@example.com", "guess", nil)
	}
	if r := postSignIn(e, stranger, "ann@example.com", testPassword, nil); r.status != http.StatusTooManyRequests || r.session {
		t.Fatalf("stranger past the limit: %d", r.status)
	}
	// A copied, tampered or other account's cookie gives nothing.
	id, mac, _ := strings.Cut(device.Value, ".")
	tampered := []string{id + "." + strings.Repeat("A", len(mac)), strings.Repeat("B", len(id)) + "." + mac, id, ""}
	bob := e.login("bob@example.com", testPassword)
	for _, ck := range bob.Jar.Cookies(u) {
		if ck.Name == deviceCookie {
			tampered = append(tampered, ck.Value)
		}
	}
	for _, v := range tampered {
		h := http.Header{"Cookie": {deviceCookie + "=" + v}}
		if r := postSignIn(e, e.client(), "ann@example.com", testPassword, h); r.status != http.StatusTooManyRequests {
			t.Fatalf("device cookie %q: %d, want 429", v, r.status)
		}
	}
	// The owner's browser has its own allowance: a typo, then the right password.
	if r := postSignIn(e, owner, "ann@example.com", "typo", nil); r.status != http.StatusUnauthorized {
		t.Fatalf("owner's typo: %d, want 401", r.status)
	}
	if r := postSignIn(e, owner, "ann@example.com", testPassword, nil); r.status != http.StatusSeeOther || !r.session {
		t.Fatalf("owner with a device cookie: %d, want a session", r.status)
	}
	// The device's own allowance is as strict as the anonymous one.
	for range signInsPerAccount {
		postSignIn(e, owner, "ann@example.com", "guess", nil)
	}
	if r := postSignIn(e, owner, "ann@example.com", testPassword, nil); r.status != http.StatusTooManyRequests {
		t.Fatalf("device past its own limit: %d, want 429", r.status)
	}
}

// guessSecretBurst sends n requests carrying a wrong secret at once and counts the statuses,
// checking that every 429 says when to retry.
func guessSecretBurst(t *testing.T, e *adminEnv, n int, build func() *http.Request) map[int]int {
	t.Helper()
	var mu sync.Mutex
	counts := map[int]int{}
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := http.DefaultClient.Do(build())
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			if resp.StatusCode == http.StatusTooManyRequests && resp.Header.Get("Retry-After") == "" {
				t.Error("429 without Retry-After")
			}
			mu.Lock()
			counts[resp.StatusCode]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	return counts
}

func TestAdminBearerGuessesAreThrottled(t *testing.T) {
	clock := &testClock{t: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}
	const token = "api-token-0123456789abcdefghijklmnopqrstuvwxyz"
	e := newAdminEnv(t, adminEnvOptions{clock: clock, configure: func(c *Config) { c.AdminAPIToken = token }})
	request := func(tok string) *http.Request {
		req, _ := http.NewRequest(http.MethodGet, e.url+"/api/admin/suggestions", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		return req
	}
	// Right tokens give their slot back: any number of them passes.
	for range tokenGuessesPerAddress + 5 {
		resp, err := http.DefaultClient.Do(request(token))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("right token: %d", resp.StatusCode)
		}
	}
	counts := guessSecretBurst(t, e, 300, func() *http.Request { return request("wrong-token") })
	if counts[http.StatusUnauthorized] != tokenGuessesPerAddress || counts[http.StatusTooManyRequests] != 300-tokenGuessesPerAddress {
		t.Fatalf("statuses %v, want %d×401 then 429", counts, tokenGuessesPerAddress)
	}
	if _, metrics := e.get(e.client(), "/metrics"); !strings.Contains(metrics,
		`technifold_auth_throttled_total{window="api-token-address"} `+strconv.Itoa(300-tokenGuessesPerAddress)) {
		t.Errorf("/metrics does not count the refusals:\n%s", metrics)
	}
	clock.Advance(guessWindow)
	resp, err := http.DefaultClient.Do(request(token))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("after the window: %d", resp.StatusCode)
	}
}

func TestCronSecretGuessesAreThrottled(t *testing.T) {
	clock := &testClock{t: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}
	const secret = "cron-secret-0123456789abcdefghijklmnopqrstuvwxyz"
	e := newAdminEnv(t, adminEnvOptions{clock: clock, configure: func(c *Config) { c.CronSecret = secret }})
	request := func(header, value string) *http.Request {
		req, _ := http.NewRequestWithContext(context.Background(), http.MethodPost, e.url+"/api/outbox/run", nil)
		req.Header.Set(header, value)
		return req
	}
	counts := guessSecretBurst(t, e, 300, func() *http.Request { return request("X-CRON-SECRET", "wrong") })
	if counts[http.StatusUnauthorized] != tokenGuessesPerAddress || counts[http.StatusTooManyRequests] != 300-tokenGuessesPerAddress {
		t.Fatalf("X-CRON-SECRET statuses %v, want %d×401 then 429", counts, tokenGuessesPerAddress)
	}
	// The bearer form shares the window; past the limit even the right secret is not compared.
	resp, err := http.DefaultClient.Do(request("Authorization", "Bearer "+secret))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("right secret past the limit: %d, want 429", resp.StatusCode)
	}
	clock.Advance(guessWindow)
	resp, err = http.DefaultClient.Do(request("Authorization", "Bearer "+secret))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("right secret after the window: %d", resp.StatusCode)
	}
}

func TestPasswordVerifierBoundsConcurrency(t *testing.T) {
	v := &passwordVerifier{slots: make(chan struct{}, 2)}
	var mu sync.Mutex
	running, peak := 0, 0
	release, entered := make(chan struct{}), make(chan struct{}, 20)
	var wg sync.WaitGroup
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _ = v.verify(context.Background(), func() bool {
				mu.Lock()
				running++
				peak = max(peak, running)
				mu.Unlock()
				entered <- struct{}{}
				<-release
				mu.Lock()
				running--
				mu.Unlock()
				return false
			})
		}()
	}
	// While two comparisons hold the slots, a caller that cannot wait gives up as busy.
	<-entered
	<-entered
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := v.verify(ctx, func() bool { t.Error("compared without a slot"); return true }); err != errBusy {
		t.Fatalf("verify with no free slot and no time to wait: %v, want errBusy", err)
	}
	close(release)
	wg.Wait()
	if peak != 2 || v.checks.Load() != 20 {
		t.Fatalf("peak %d concurrent comparisons (want 2), %d made (want 20)", peak, v.checks.Load())
	}
}
