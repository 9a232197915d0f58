package bolt

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"

	bbolt "go.etcd.io/bbolt"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apimachinery/pkg/watch"
)

// The metadata bookkeeping of each write. These run in the writer's transaction and check
// everything before they write anything, so a failed operation leaves no trace in the
// batch. On success they set o.out and return the operation's event (nil when nothing
// changed); rev is the revision the change gets.

func apply(tx *bbolt.Tx, o *op, rev uint64) (*event, error) {
	switch o.kind {
	case opCreate:
		return applyCreate(tx, o, rev)
	case opUpdate:
		return applyUpdate(tx, o, rev)
	case opUpdateStatus:
		return applyUpdateStatus(tx, o, rev)
	case opDelete:
		return applyDelete(tx, o, rev)
	}
	return nil, fmt.Errorf("unknown operation %d", o.kind)
}

// generateNameAttempts is how many random names Create tries before giving up.
const generateNameAttempts = 8

func applyCreate(tx *bbolt.Tx, o *op, rev uint64) (*event, error) {
	obj := o.obj
	ns, name := obj.GetNamespace(), obj.GetName()
	if err := validateKey(o, ns, name); err != nil {
		return nil, err
	}
	b := tx.Bucket(bucketName(o.res))
	exists := func(name string) bool { return b != nil && b.Get(key(ns, name)) != nil }
	if name == "" {
		for i := 0; ; i++ {
			name = obj.GetGenerateName() + randomSuffix()
			if !exists(name) {
				break
			}
			if i == generateNameAttempts {
				return nil, apierrors.NewAlreadyExists(o.res, name)
			}
		}
		obj.SetName(name)
	} else if exists(name) {
		return nil, apierrors.NewAlreadyExists(o.res, name)
	}

	now := metav1.Now()
	obj.SetUID(types.UID(newUID()))
	obj.SetCreationTimestamp(now)
	obj.SetGeneration(1)
	obj.SetResourceVersion(formatRevision(rev))
	obj.SetDeletionTimestamp(nil)
	obj.SetDeletionGracePeriodSeconds(nil)
	b, err := tx.CreateBucketIfNotExists(bucketName(o.res))
	if err != nil {
		return nil, err
	}
	if err := put(b, obj); err != nil {
		return nil, err
	}
	o.out = obj
	return newEvent(watch.Added, o.res, rev, obj, nil), nil
}

func applyUpdate(tx *bbolt.Tx, o *op, rev uint64) (*event, error) {
	obj := o.obj
	b, cur, err := load(tx, o, obj.GetNamespace(), obj.GetName())
	if err != nil {
		return nil, err
	}
	if err := checkVersion(o, cur, obj.GetResourceVersion()); err != nil {
		return nil, err
	}
	// Status is kept; uid, creationTimestamp and the deletion fields can't be changed.
	copyField(obj.Object, cur.Object, "status")
	meta, _ := obj.Object["metadata"].(map[string]any)
	curMeta, _ := cur.Object["metadata"].(map[string]any)
	for _, f := range []string{"uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "resourceVersion", "generation"} {
		copyField(meta, curMeta, f)
	}
	if !specEqual(obj.Object, cur.Object) {
		obj.SetGeneration(cur.GetGeneration() + 1)
	}
	if reflect.DeepEqual(obj.Object, cur.Object) {
		o.out = cur // nothing changes: same resourceVersion, no event
		return nil, nil
	}
	obj.SetResourceVersion(formatRevision(rev))
	if obj.GetDeletionTimestamp() != nil && len(obj.GetFinalizers()) == 0 {
		// The last finalizer is gone: the deletion completes.
		if err := b.Delete(key(obj.GetNamespace(), obj.GetName())); err != nil {
			return nil, err
		}
		o.out = obj
		return newEvent(watch.Deleted, o.res, rev, obj, cur.GetLabels()), nil
	}
	if err := put(b, obj); err != nil {
		return nil, err
	}
	o.out = obj
	return newEvent(watch.Modified, o.res, rev, obj, cur.GetLabels()), nil
}

func applyUpdateStatus(tx *bbolt.Tx, o *op, rev uint64) (*event, error) {
	b, cur, err := load(tx, o, o.obj.GetNamespace(), o.obj.GetName())
	if err != nil {
		return nil, err
	}
	if err := checkVersion(o, cur, o.obj.GetResourceVersion()); err != nil {
		return nil, err
	}
	status, had := o.obj.Object["status"]
	curStatus, curHad := cur.Object["status"]
	if had == curHad && reflect.DeepEqual(status, curStatus) {
		o.out = cur
		return nil, nil
	}
	prevLabels := cur.GetLabels()
	obj := cur // everything but status stays as stored
	copyField(obj.Object, o.obj.Object, "status")
	obj.SetResourceVersion(formatRevision(rev))
	if err := put(b, obj); err != nil {
		return nil, err
	}
	o.out = obj
	return newEvent(watch.Modified, o.res, rev, obj, prevLabels), nil
}

func applyDelete(tx *bbolt.Tx, o *op, rev uint64) (*event, error) {
	b, cur, err := load(tx, o, o.namespace, o.name)
	if err != nil {
		return nil, err
	}
	if err := checkVersion(o, cur, o.pre.ResourceVersion); err != nil {
		return nil, err
	}
	if uid := o.pre.UID; uid != "" && uid != string(cur.GetUID()) {
		return nil, apierrors.NewConflict(o.res, o.name, fmt.Errorf(
			"precondition failed: UID in precondition: %s, UID in object meta: %s", uid, cur.GetUID()))
	}
	if len(cur.GetFinalizers()) > 0 {
		if cur.GetDeletionTimestamp() != nil {
			o.out = cur // already being deleted
			return nil, nil
		}
		prevLabels := cur.GetLabels()
		now := metav1.Now()
		cur.SetDeletionTimestamp(&now)
		cur.SetResourceVersion(formatRevision(rev))
		if err := put(b, cur); err != nil {
			return nil, err
		}
		o.out = cur
		return newEvent(watch.Modified, o.res, rev, cur, prevLabels), nil
	}
	if err := b.Delete(key(o.namespace, o.name)); err != nil {
		return nil, err
	}
	cur.SetResourceVersion(formatRevision(rev))
	o.out = cur
	return newEvent(watch.Deleted, o.res, rev, cur, cur.GetLabels()), nil
}

// load reads the stored object an operation targets.
func load(tx *bbolt.Tx, o *op, ns, name string) (*bbolt.Bucket, *unstructured.Unstructured, error) {
	if name == "" {
		return nil, nil, invalid(o, name, field.Required(field.NewPath("metadata", "name"), "name is required"))
	}
	b := tx.Bucket(bucketName(o.res))
	var data []byte
	if b != nil {
		data = b.Get(key(ns, name))
	}
	if data == nil {
		return nil, nil, apierrors.NewNotFound(o.res, name)
	}
	cur, err := decode(data)
	return b, cur, err
}

// checkVersion enforces optimistic concurrency: a given resourceVersion must be the
// stored one.
func checkVersion(o *op, cur *unstructured.Unstructured, rv string) error {
	if rv == "" || rv == cur.GetResourceVersion() {
		return nil
	}
	return apierrors.NewConflict(o.res, cur.GetName(), fmt.Errorf(
		"the object has been modified (resourceVersion %s, not %s); please apply your changes to the latest version and try again",
		cur.GetResourceVersion(), rv))
}

// validateKey rejects names that can't be keys.
func validateKey(o *op, ns, name string) error {
	var errs field.ErrorList
	if name == "" && o.obj.GetGenerateName() == "" {
		errs = append(errs, field.Required(field.NewPath("metadata", "name"), "name or generateName is required"))
	}
	if strings.Contains(name, "/") {
		errs = append(errs, field.Invalid(field.NewPath("metadata", "name"), name, `may not contain "/"`))
	}
	if gn := o.obj.GetGenerateName(); name == "" && strings.Contains(gn, "/") {
		errs = append(errs, field.Invalid(field.NewPath("metadata", "generateName"), gn, `may not contain "/"`))
	}
	if strings.Contains(ns, "/") {
		errs = append(errs, field.Invalid(field.NewPath("metadata", "namespace"), ns, `may not contain "/"`))
	}
	if len(errs) == 0 {
		return nil
	}
	return invalid(o, name, errs...)
}

func invalid(o *op, name string, errs ...*field.Error) error {
	kind := ""
	if o.obj != nil {
		kind = o.obj.GetKind()
	}
	return apierrors.NewInvalid(schema.GroupKind{Group: o.res.Group, Kind: kind}, name, errs)
}

func put(b *bbolt.Bucket, obj *unstructured.Unstructured) error {
	data, err := json.Marshal(obj.Object)
	if err != nil {
		return err
	}
	return b.Put(key(obj.GetNamespace(), obj.GetName()), data)
}

// copyField makes dst[k] what src[k] is, present or absent.
func copyField(dst, src map[string]any, k string) {
	if v, ok := src[k]; ok {
		dst[k] = v
	} else {
		delete(dst, k)
	}
}

// specEqual reports whether two objects are the same outside metadata and status.
func specEqual(a, b map[string]any) bool {
	n := 0
	for k, v := range a {
		if k == "metadata" || k == "status" {
			continue
		}
		w, ok := b[k]
		if !ok || !reflect.DeepEqual(v, w) {
			return false
		}
		n++
	}
	for k := range b {
		if k != "metadata" && k != "status" {
			n--
		}
	}
	return n == 0
}
