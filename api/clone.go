package api

import (
	"encoding/json"
	"fmt"
)

// Clone returns a deep copy of *v made through its JSON form, or nil for nil. API types are
// all JSON, so the copy is exact for every field the API stores. It panics if v does not
// encode, which for API types is a programming error.
func Clone[T any](v *T) *T {
	if v == nil {
		return nil
	}
	data, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("api.Clone %T: %v", v, err))
	}
	out := new(T)
	if err := json.Unmarshal(data, out); err != nil {
		panic(fmt.Sprintf("api.Clone %T: %v", v, err))
	}
	return out
}
