package handlers_test

import (
	"bytes"
	"cacheworkshop/app"
	"cacheworkshop/internal/testapp"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestAdminToken: with ADMIN_TOKEN and EDIT_REQUIRES_ADMIN set, the reset
// and edits need the token; the lessons test their own admin routes.
func TestAdminToken(t *testing.T) {
	a := testapp.New(t, func(c *app.Config) { c.AdminToken, c.EditAdmin = "s3cret", true })
	p := a.Product(5)
	tests := []struct {
		path string
		form url.Values
	}{
		{"/products/5/edit", testapp.EditForm(p, map[string]string{"name": "Admin edit"})},
		{"/reset", url.Values{}},
	}
	for _, tt := range tests {
		if r := a.Post(tt.path, tt.form); r.Status != 403 {
			t.Errorf("%s without token: got %d, want 403", tt.path, r.Status)
		}
		f := url.Values{}
		for k, v := range tt.form {
			f[k] = v
		}
		f.Set("admin_token", "wrong")
		if r := a.Post(tt.path, f); r.Status != 403 {
			t.Errorf("%s with a wrong token: got %d, want 403", tt.path, r.Status)
		}
		f.Set("admin_token", "s3cret")
		if r := a.Post(tt.path, f); r.Status != 303 {
			t.Errorf("%s with the token: got %d, want 303", tt.path, r.Status)
		}
	}
	if !strings.Contains(a.Get("/products/5/edit").Body, `name="admin_token"`) {
		t.Error("edit form lacks the admin token field when edits need it")
	}
}

func TestEditOpenWithoutEditRequiresAdmin(t *testing.T) {
	a := testapp.New(t, func(c *app.Config) { c.AdminToken = "s3cret" })
	p := a.Product(6)
	if r := a.Post("/products/6/edit", testapp.EditForm(p, map[string]string{"name": "Open edit"})); r.Status != 303 {
		t.Errorf("edit with ADMIN_TOKEN set but not EDIT_REQUIRES_ADMIN: got %d, want 303", r.Status)
	}
}

func TestReset(t *testing.T) {
	a := testapp.New(t)
	p := a.Product(3)
	a.Post("/products/3/edit", testapp.EditForm(p, map[string]string{"name": "Before reset"}))
	a.Get("/products/3?cache=memory")
	if r := a.Post("/reset", url.Values{}); r.Status != 303 {
		t.Fatalf("reset: got %d", r.Status)
	}
	// Versions never repeat, across a reset too: keys and ETags built
	// from "id:vN" before it can match nothing after it.
	if got := a.Product(3); got.Name != p.Name || got.Version <= p.Version+1 {
		t.Errorf("after reset: got %q v%d, want %q above v%d", got.Name, got.Version, p.Name, p.Version+1)
	}
	for _, m := range modes {
		if body := a.Get("/products/3?cache=" + m).Body; strings.Contains(body, "Before reset") {
			t.Errorf("%s: edited name still served after reset", m)
		}
	}
}

// TestMultipartEdit: a multipart edit is parsed like a URL-encoded one,
// so its admin_token counts (it used to be read as empty and refused).
func TestMultipartEdit(t *testing.T) {
	a := testapp.New(t, func(c *app.Config) { c.AdminToken, c.EditAdmin = "s3cret", true })
	for _, tc := range []struct {
		token  string
		status int
	}{{"", 403}, {"wrong", 403}, {"s3cret", 303}} {
		p := a.Product(12)
		var body bytes.Buffer
		mw := multipart.NewWriter(&body)
		for k, vs := range testapp.EditForm(p, map[string]string{"name": "Multipart " + tc.token}) {
			_ = mw.WriteField(k, vs[0])
		}
		if tc.token != "" {
			_ = mw.WriteField("admin_token", tc.token)
		}
		_ = mw.Close()
		req, _ := http.NewRequest(http.MethodPost, a.TS.URL+"/products/12/edit", &body)
		req.Header.Set("Content-Type", mw.FormDataContentType())
		if r := a.Do(req); r.Status != tc.status {
			t.Errorf("multipart edit with token %q: got %d, want %d", tc.token, r.Status, tc.status)
		}
	}
	if got := a.Product(12).Name; got != "Multipart s3cret" {
		t.Errorf("after the multipart edits: name %q, want the one sent with the token", got)
	}
}
