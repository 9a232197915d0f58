package build_test

import (
	"testing"

	"github.com/eddyplatform/eddy/api"
	"github.com/eddyplatform/eddy/api/apitest"
	"github.com/eddyplatform/eddy/api/kinds"
)

var reg = kinds.NewRegistry()

func decodeFile(t *testing.T, name string) []api.Object {
	t.Helper()
	return apitest.DecodeFile(t, reg, name)
}

func admit(t *testing.T, doc string) (api.Object, error) {
	t.Helper()
	return apitest.Admit(t, reg, doc)
}

func mustAdmit(t *testing.T, obj api.Object) api.Object {
	t.Helper()
	return apitest.MustAdmit(t, reg, obj)
}

func expectInvalid(t *testing.T, name string, err error, want ...string) {
	t.Helper()
	apitest.ExpectInvalid(t, name, err, want...)
}
