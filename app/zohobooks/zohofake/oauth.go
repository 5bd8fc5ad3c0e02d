package zohofake

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"time"
)

const (
	mintLimit  = 10
	mintWindow = 10 * time.Minute
)

// serveToken is the accounts server's refresh-token grant. Like Zoho, it
// reports bad credentials with HTTP 200 and an "error" field.
func (s *Server) serveToken(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		writeToken(w, http.StatusMethodNotAllowed, map[string]any{"error": "invalid_request"})
		return
	}
	if err := r.ParseForm(); err != nil {
		writeToken(w, http.StatusBadRequest, map[string]any{"error": "invalid_request"})
		return
	}
	form := r.PostForm
	if form.Get("grant_type") != "refresh_token" {
		writeToken(w, http.StatusBadRequest, map[string]any{"error": "unsupported_grant_type"})
		return
	}
	if form.Get("client_id") != s.opts.ClientID || form.Get("client_secret") != s.opts.ClientSecret {
		writeToken(w, http.StatusOK, map[string]any{"error": "invalid_client"})
		return
	}
	if form.Get("refresh_token") != s.opts.RefreshToken {
		writeToken(w, http.StatusOK, map[string]any{"error": "invalid_code"})
		return
	}

	s.mu.Lock()
	now := s.opts.Now()
	cut := 0
	for cut < len(s.mintTimes) && !s.mintTimes[cut].After(now.Add(-mintWindow)) {
		cut++
	}
	s.mintTimes = s.mintTimes[cut:]
	if len(s.mintTimes) >= mintLimit {
		s.violations++
		s.mu.Unlock()
		writeToken(w, http.StatusBadRequest, map[string]any{
			"error":             "Access Denied",
			"error_description": "You have made too many requests continuously. Please try again after some time.",
		})
		return
	}
	s.mintTimes = append(s.mintTimes, now)
	s.minted++
	tok := "1000." + randomHex(16) + "." + randomHex(16)
	s.tokens[tok] = now.Add(s.opts.TokenTTL)
	s.mu.Unlock()

	writeToken(w, http.StatusOK, map[string]any{
		"access_token": tok,
		"scope":        "ZohoBooks.fullaccess.all",
		"api_domain":   s.opts.APIDomain,
		"token_type":   "Bearer",
		"expires_in":   int(s.opts.TokenTTL / time.Second),
	})
}

func writeToken(w http.ResponseWriter, status int, body map[string]any) {
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
