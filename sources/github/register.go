package github

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	gogithub "github.com/google/go-github/v57/github"
)

// DefaultAPIURL is the REST API of github.com.
const DefaultAPIURL = "https://api.github.com/"

// RegisterConfig says which webhook to create, edit or delete.
type RegisterConfig struct {
	// APIURL is the REST API base, DefaultAPIURL when empty. Any other value is a GitHub
	// Enterprise server (e.g. https://ghe.example.com/api/v3/; go-github appends api/v3/ to a
	// bare host).
	APIURL string
	// Token is the access token used to call the API (needs admin:repo_hook or
	// admin:org_hook). Required.
	Token string
	// OwnerAndRepository is "owner/repo" for a repository hook or "org" for an organisation
	// hook. Required.
	OwnerAndRepository string
	// EventTypes are the events to subscribe to; empty means every event ("*").
	EventTypes []string
	// CallbackURL is where GitHub delivers, the Receiver's address. Required by Register and
	// UpdateRegistration.
	CallbackURL string
	// Secret is the webhook secret GitHub signs deliveries with. Required unless Insecure.
	Secret []byte
	// Insecure allows a hook without a secret, whose deliveries are unsigned.
	Insecure bool
	// InsecureSSL has GitHub skip TLS certificate verification when delivering to
	// CallbackURL (the hook's insecure_ssl setting).
	InsecureSSL bool
	// HTTPClient makes the API calls; http.DefaultClient's settings when nil.
	HTTPClient *http.Client
}

// Register creates the webhook and returns its id. If GitHub answers that an identical hook
// (same callback URL) already exists, for instance because an earlier Register's answer was
// lost, that hook is edited to match cfg and its id returned.
func Register(ctx context.Context, cfg RegisterConfig) (int64, error) {
	c, owner, repo, err := cfg.client(true)
	if err != nil {
		return 0, err
	}
	hook := cfg.hook()
	var h *gogithub.Hook
	if repo != "" {
		h, _, err = c.Repositories.CreateHook(ctx, owner, repo, hook)
	} else {
		h, _, err = c.Organizations.CreateHook(ctx, owner, hook)
	}
	if err == nil {
		if h.GetID() == 0 {
			return 0, errors.New("github: creating webhook: the answer has no hook id")
		}
		return h.GetID(), nil
	}
	var ghErr *gogithub.ErrorResponse
	if !errors.As(err, &ghErr) || ghErr.Response == nil || ghErr.Response.StatusCode != http.StatusUnprocessableEntity {
		return 0, fmt.Errorf("github: creating webhook on %s: %w", cfg.OwnerAndRepository, err)
	}
	id, findErr := cfg.findHook(ctx, c, owner, repo)
	if findErr != nil || id == 0 {
		return 0, fmt.Errorf("github: creating webhook on %s: %w", cfg.OwnerAndRepository, err)
	}
	if err := cfg.edit(ctx, c, owner, repo, id); err != nil {
		return 0, err
	}
	return id, nil
}

// UpdateRegistration edits the webhook hookID to match cfg: callback URL, events, secret,
// TLS setting, active.
func UpdateRegistration(ctx context.Context, cfg RegisterConfig, hookID int64) error {
	c, owner, repo, err := cfg.client(true)
	if err != nil {
		return err
	}
	return cfg.edit(ctx, c, owner, repo, hookID)
}

// Unregister deletes the webhook hookID. A hook that no longer exists (404) counts as deleted.
// Only APIURL, Token, OwnerAndRepository and HTTPClient are used.
func Unregister(ctx context.Context, cfg RegisterConfig, hookID int64) error {
	c, owner, repo, err := cfg.client(false)
	if err != nil {
		return err
	}
	var resp *gogithub.Response
	if repo != "" {
		resp, err = c.Repositories.DeleteHook(ctx, owner, repo, hookID)
	} else {
		resp, err = c.Organizations.DeleteHook(ctx, owner, hookID)
	}
	if err != nil {
		if resp != nil && resp.StatusCode == http.StatusNotFound {
			return nil
		}
		return fmt.Errorf("github: deleting webhook %d on %s: %w", hookID, cfg.OwnerAndRepository, err)
	}
	return nil
}

// client validates cfg and returns an authenticated client and the split owner and repo.
func (cfg RegisterConfig) client(hookSettings bool) (*gogithub.Client, string, string, error) {
	if cfg.Token == "" {
		return nil, "", "", errors.New("github: an access token is required")
	}
	if !validOwnerAndRepository(cfg.OwnerAndRepository) {
		return nil, "", "", fmt.Errorf("github: OwnerAndRepository %q is not \"owner\" or \"owner/repo\"", cfg.OwnerAndRepository)
	}
	if hookSettings {
		if u, err := url.Parse(cfg.CallbackURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, "", "", errors.New("github: CallbackURL must be an absolute http(s) URL")
		}
		if len(cfg.Secret) == 0 && !cfg.Insecure {
			return nil, "", "", errors.New("github: a webhook secret is required unless Insecure is set")
		}
		for _, t := range cfg.EventTypes {
			if t != "*" && !ValidEventName(t) {
				return nil, "", "", fmt.Errorf("github: EventTypes: %q is not a GitHub event name", t)
			}
		}
	}
	// go-github v57's WithAuthToken wraps the Transport of the http.Client it was given, in
	// place: hand it a copy, so the caller's client is left alone and calls do not stack.
	hc := &http.Client{}
	if cfg.HTTPClient != nil {
		copied := *cfg.HTTPClient
		hc = &copied
	}
	c := gogithub.NewClient(hc).WithAuthToken(cfg.Token)
	if cfg.APIURL != "" && cfg.APIURL != DefaultAPIURL && cfg.APIURL != strings.TrimSuffix(DefaultAPIURL, "/") {
		u, err := url.Parse(cfg.APIURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, "", "", errors.New("github: APIURL must be an absolute http(s) URL")
		}
		if c, err = c.WithEnterpriseURLs(cfg.APIURL, cfg.APIURL); err != nil {
			return nil, "", "", fmt.Errorf("github: APIURL: %w", err)
		}
	}
	owner, repo, _ := strings.Cut(cfg.OwnerAndRepository, "/")
	return c, owner, repo, nil
}

// hook is the webhook cfg describes.
func (cfg RegisterConfig) hook() *gogithub.Hook {
	events := slices.Clone(cfg.EventTypes)
	if len(events) == 0 {
		events = []string{"*"}
	}
	config := map[string]interface{}{
		"url":          cfg.CallbackURL,
		"content_type": "json",
		"insecure_ssl": "0",
	}
	if cfg.InsecureSSL {
		config["insecure_ssl"] = "1"
	}
	if len(cfg.Secret) > 0 {
		config["secret"] = string(cfg.Secret)
	}
	return &gogithub.Hook{Config: config, Events: events, Active: gogithub.Bool(true)}
}

func (cfg RegisterConfig) edit(ctx context.Context, c *gogithub.Client, owner, repo string, hookID int64) error {
	var err error
	hook := cfg.hook()
	if repo != "" {
		_, _, err = c.Repositories.EditHook(ctx, owner, repo, hookID, hook)
	} else {
		_, _, err = c.Organizations.EditHook(ctx, owner, hookID, hook)
	}
	if err != nil {
		return fmt.Errorf("github: editing webhook %d on %s: %w", hookID, cfg.OwnerAndRepository, err)
	}
	return nil
}

// findHook returns the id of the hook delivering to cfg.CallbackURL, 0 if there is none.
func (cfg RegisterConfig) findHook(ctx context.Context, c *gogithub.Client, owner, repo string) (int64, error) {
	opts := &gogithub.ListOptions{PerPage: 100}
	for {
		var (
			hooks []*gogithub.Hook
			resp  *gogithub.Response
			err   error
		)
		if repo != "" {
			hooks, resp, err = c.Repositories.ListHooks(ctx, owner, repo, opts)
		} else {
			hooks, resp, err = c.Organizations.ListHooks(ctx, owner, opts)
		}
		if err != nil {
			return 0, err
		}
		for _, h := range hooks {
			if u, ok := h.Config["url"].(string); ok && u == cfg.CallbackURL {
				return h.GetID(), nil
			}
		}
		if resp.NextPage == 0 {
			return 0, nil
		}
		opts.Page = resp.NextPage
	}
}
