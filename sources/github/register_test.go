package github

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// hooksAPI implements the GitHub REST endpoints for repository and organisation webhooks
// (POST/GET .../hooks, PATCH/DELETE .../hooks/{id}) under /api/v3/, as a GitHub Enterprise
// server serves them, keeping the hooks in memory and every request body it was sent.
type hooksAPI struct {
	t     *testing.T
	token string

	mu     sync.Mutex
	nextID int64
	hooks  map[string]map[int64]map[string]any // owner[/repo] → id → hook
	bodies []string                            // "METHOD path body"
	fail   int                                 // answer every request with this status when non-zero
}

func newHooksAPI(t *testing.T, token string) (*hooksAPI, *httptest.Server) {
	api := &hooksAPI{t: t, token: token, nextID: 1000, hooks: map[string]map[int64]map[string]any{}}
	mux := http.NewServeMux()
	for _, prefix := range []string{"/api/v3/repos/{owner}/{repo}", "/api/v3/orgs/{owner}"} {
		mux.HandleFunc("POST "+prefix+"/hooks", api.create)
		mux.HandleFunc("GET "+prefix+"/hooks", api.list)
		mux.HandleFunc("PATCH "+prefix+"/hooks/{id}", api.edit)
		mux.HandleFunc("DELETE "+prefix+"/hooks/{id}", api.remove)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+api.token {
			writeJSON(w, http.StatusUnauthorized, map[string]any{"message": "Bad credentials"})
			return
		}
		body, _ := io.ReadAll(r.Body)
		api.mu.Lock()
		api.bodies = append(api.bodies, r.Method+" "+r.URL.Path+" "+strings.TrimSpace(string(body)))
		fail := api.fail
		api.mu.Unlock()
		if fail != 0 {
			writeJSON(w, fail, map[string]any{"message": "Server Error"})
			return
		}
		r.Body = io.NopCloser(strings.NewReader(string(body)))
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return api, srv
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func target(r *http.Request) string {
	if repo := r.PathValue("repo"); repo != "" {
		return r.PathValue("owner") + "/" + repo
	}
	return r.PathValue("owner")
}

func (a *hooksAPI) create(w http.ResponseWriter, r *http.Request) {
	var req map[string]any
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"message": "Problems parsing JSON"})
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	cfg, _ := req["config"].(map[string]any)
	for _, h := range a.hooks[target(r)] {
		if h["config"].(map[string]any)["url"] == cfg["url"] {
			writeJSON(w, http.StatusUnprocessableEntity, map[string]any{
				"message": "Validation Failed",
				"errors":  []any{map[string]any{"resource": "Hook", "code": "custom", "message": "Hook already exists on this repository"}},
			})
			return
		}
	}
	a.nextID++
	hook := map[string]any{"id": a.nextID, "type": "Repository", "name": req["name"], "active": req["active"], "events": req["events"], "config": redact(cfg)}
	if a.hooks[target(r)] == nil {
		a.hooks[target(r)] = map[int64]map[string]any{}
	}
	a.hooks[target(r)][a.nextID] = hook
	writeJSON(w, http.StatusCreated, hook)
}

// redact hides the secret as GitHub does in its answers.
func redact(cfg map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range cfg {
		out[k] = v
	}
	if _, ok := out["secret"]; ok {
		out["secret"] = "********"
	}
	return out
}

func (a *hooksAPI) list(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := []any{}
	for _, h := range a.hooks[target(r)] {
		out = append(out, h)
	}
	writeJSON(w, http.StatusOK, out)
}

func (a *hooksAPI) lookup(w http.ResponseWriter, r *http.Request) (int64, map[string]any) {
	id, _ := strconv.ParseInt(r.PathValue("id"), 10, 64)
	h := a.hooks[target(r)][id]
	if h == nil {
		writeJSON(w, http.StatusNotFound, map[string]any{"message": "Not Found"})
	}
	return id, h
}

func (a *hooksAPI) edit(w http.ResponseWriter, r *http.Request) {
	var req map[string]any
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"message": "Problems parsing JSON"})
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	_, h := a.lookup(w, r)
	if h == nil {
		return
	}
	for _, k := range []string{"events", "active"} {
		if v, ok := req[k]; ok {
			h[k] = v
		}
	}
	if cfg, ok := req["config"].(map[string]any); ok {
		h["config"] = redact(cfg)
	}
	writeJSON(w, http.StatusOK, h)
}

func (a *hooksAPI) remove(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	defer a.mu.Unlock()
	id, h := a.lookup(w, r)
	if h == nil {
		return
	}
	delete(a.hooks[target(r)], id)
	w.WriteHeader(http.StatusNoContent)
}

// lastBody returns the JSON body of the last request, decoded.
func (a *hooksAPI) lastBody(t *testing.T) (string, map[string]any) {
	t.Helper()
	a.mu.Lock()
	defer a.mu.Unlock()
	last := a.bodies[len(a.bodies)-1]
	parts := strings.SplitN(last, " ", 3)
	var body map[string]any
	if parts[2] != "" {
		if err := json.Unmarshal([]byte(parts[2]), &body); err != nil {
			t.Fatalf("request body %q: %v", parts[2], err)
		}
	}
	return parts[0] + " " + parts[1], body
}

func TestRegisterRepository(t *testing.T) {
	api, srv := newHooksAPI(t, "tok-123")
	ctx := context.Background()
	cfg := RegisterConfig{
		APIURL:             srv.URL, // go-github adds api/v3/ to a bare Enterprise host
		Token:              "tok-123",
		OwnerAndRepository: "Codertocat/Hello-World",
		EventTypes:         []string{"push", "pull_request"},
		CallbackURL:        "https://github-src.ns.example.com/",
		Secret:             []byte("s3cret"),
		HTTPClient:         srv.Client(),
	}
	id, err := Register(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if id != 1001 {
		t.Errorf("hook id %d", id)
	}
	req, body := api.lastBody(t)
	want := map[string]any{
		"name":   "web",
		"active": true,
		"events": []any{"push", "pull_request"},
		"config": map[string]any{"url": "https://github-src.ns.example.com/", "content_type": "json", "insecure_ssl": "0", "secret": "s3cret"},
	}
	if req != "POST /api/v3/repos/Codertocat/Hello-World/hooks" || !jsonEqual(body, want) {
		t.Errorf("%s %v,\nwant %v", req, body, want)
	}

	// Registering again finds the hook GitHub already has and brings it up to date.
	cfg.Secret, cfg.EventTypes, cfg.InsecureSSL = []byte("rotated"), nil, true
	again, err := Register(ctx, cfg)
	if err != nil || again != id {
		t.Fatalf("second Register: %d, %v", again, err)
	}
	req, body = api.lastBody(t)
	want["events"] = []any{"*"}
	want["config"] = map[string]any{"url": "https://github-src.ns.example.com/", "content_type": "json", "insecure_ssl": "1", "secret": "rotated"}
	delete(want, "name")
	if req != fmt.Sprintf("PATCH /api/v3/repos/Codertocat/Hello-World/hooks/%d", id) || !jsonEqual(body, want) {
		t.Errorf("%s %v,\nwant %v", req, body, want)
	}

	cfg.EventTypes = []string{"issues"}
	if err := UpdateRegistration(ctx, cfg, id); err != nil {
		t.Fatal(err)
	}
	if _, body = api.lastBody(t); !jsonEqual(body["events"], []any{"issues"}) {
		t.Errorf("edit body %v", body)
	}

	if err := Unregister(ctx, cfg, id); err != nil {
		t.Fatal(err)
	}
	if req, _ = api.lastBody(t); req != fmt.Sprintf("DELETE /api/v3/repos/Codertocat/Hello-World/hooks/%d", id) {
		t.Errorf("delete request %s", req)
	}
	// Gone already: still fine.
	if err := Unregister(ctx, cfg, id); err != nil {
		t.Errorf("second Unregister: %v", err)
	}
	if err := UpdateRegistration(ctx, cfg, id); err == nil {
		t.Error("editing a deleted hook succeeded")
	}
}

func TestRegisterOrganisation(t *testing.T) {
	api, srv := newHooksAPI(t, "tok")
	cfg := RegisterConfig{
		APIURL: srv.URL + "/api/v3/", Token: "tok", OwnerAndRepository: "Octocoders",
		CallbackURL: "http://receiver.local/hook", Insecure: true, HTTPClient: srv.Client(),
	}
	id, err := Register(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	req, body := api.lastBody(t)
	if req != "POST /api/v3/orgs/Octocoders/hooks" {
		t.Errorf("request %s", req)
	}
	if c := body["config"].(map[string]any); c["secret"] != nil || c["url"] != "http://receiver.local/hook" {
		t.Errorf("config %v", c)
	}
	if err := Unregister(context.Background(), cfg, id); err != nil {
		t.Fatal(err)
	}
	if req, _ = api.lastBody(t); req != fmt.Sprintf("DELETE /api/v3/orgs/Octocoders/hooks/%d", id) {
		t.Errorf("request %s", req)
	}
}

func TestRegisterErrors(t *testing.T) {
	api, srv := newHooksAPI(t, "good-token")
	base := RegisterConfig{APIURL: srv.URL, Token: "good-token", OwnerAndRepository: "o/r", CallbackURL: "https://x.example/", Secret: []byte("hush-hush"), HTTPClient: srv.Client()}
	ctx := context.Background()
	transport := srv.Client().Transport
	defer func() {
		if srv.Client().Transport != transport {
			t.Error("the caller's http.Client was modified")
		}
	}()

	invalid := map[string]func(*RegisterConfig){
		"no token":       func(c *RegisterConfig) { c.Token = "" },
		"no secret":      func(c *RegisterConfig) { c.Secret = nil },
		"bad target":     func(c *RegisterConfig) { c.OwnerAndRepository = "o/../../user" },
		"no callback":    func(c *RegisterConfig) { c.CallbackURL = "" },
		"relative call":  func(c *RegisterConfig) { c.CallbackURL = "/hook" },
		"bad event":      func(c *RegisterConfig) { c.EventTypes = []string{"push;"} },
		"bad api url":    func(c *RegisterConfig) { c.APIURL = "ftp://x" },
		"bad api url #2": func(c *RegisterConfig) { c.APIURL = "::" },
	}
	for name, mod := range invalid {
		c := base
		mod(&c)
		if _, err := Register(ctx, c); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	api.mu.Lock()
	if len(api.bodies) != 0 {
		t.Errorf("invalid configs reached the API: %v", api.bodies)
	}
	api.mu.Unlock()

	wrong := base
	wrong.Token = "bad-token"
	_, err := Register(ctx, wrong)
	if err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("bad credentials: %v", err)
	}
	api.mu.Lock()
	api.fail = http.StatusInternalServerError
	api.mu.Unlock()
	_, err2 := Register(ctx, base)
	err3 := Unregister(ctx, base, 5)
	for _, e := range []error{err, err2, err3} {
		if e == nil {
			t.Fatal("API failure not reported")
		}
		if msg := e.Error(); strings.Contains(msg, "good-token") || strings.Contains(msg, "bad-token") || strings.Contains(msg, "hush-hush") {
			t.Errorf("error leaks a credential: %s", msg)
		}
	}
}

func TestDefaultAPIURL(t *testing.T) {
	for _, u := range []string{"", DefaultAPIURL, "https://api.github.com"} {
		c, owner, repo, err := RegisterConfig{APIURL: u, Token: "t", OwnerAndRepository: "o/r"}.client(false)
		if err != nil || c.BaseURL.String() != DefaultAPIURL || owner != "o" || repo != "r" {
			t.Errorf("%q: %v %s %s %s", u, err, c.BaseURL, owner, repo)
		}
	}
	c, _, _, err := RegisterConfig{APIURL: "https://ghe.example.com", Token: "t", OwnerAndRepository: "o"}.client(false)
	if err != nil || c.BaseURL.String() != "https://ghe.example.com/api/v3/" {
		t.Errorf("enterprise: %v %s", err, c.BaseURL)
	}
}

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}
