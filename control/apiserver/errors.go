package apiserver

import (
	"errors"
	"net/http"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// toStatus turns any error into a Kubernetes Status: StatusErrors keep theirs, anything else is
// an internal error.
func toStatus(err error) metav1.Status {
	var se apierrors.APIStatus
	if errors.As(err, &se) {
		st := se.Status()
		st.Kind, st.APIVersion = "Status", "v1"
		if st.Status == "" {
			st.Status = metav1.StatusFailure
		}
		return st
	}
	st := apierrors.NewInternalError(err).ErrStatus
	st.Kind, st.APIVersion = "Status", "v1"
	return st
}

// writeStatus writes err as a Status object with its HTTP code.
func writeStatus(w http.ResponseWriter, err error) {
	st := toStatus(err)
	code := int(st.Code)
	if code == 0 {
		code = http.StatusInternalServerError
	}
	writeJSON(w, code, st)
}

func unauthorized() error {
	return apierrors.NewUnauthorized("a valid bearer token is required: send Authorization: Bearer <token> (the token is in the data directory's token file)")
}

func methodNotAllowed(method, what string) error {
	return apierrors.NewMethodNotSupported(groupResourceNone, method+" on "+what)
}

func unsupportedMediaType(ct string) error {
	return &apierrors.StatusError{ErrStatus: metav1.Status{
		Status: metav1.StatusFailure, Code: http.StatusUnsupportedMediaType, Reason: metav1.StatusReasonUnsupportedMediaType,
		Message: "the patch content type " + ct + " is not supported: use application/merge-patch+json or application/json-patch+json",
	}}
}
