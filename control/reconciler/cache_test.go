package reconciler_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/eddyplatform/eddy/api/kinds"
	"github.com/eddyplatform/eddy/control/reconciler"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/labels"
)

// TestCacheSyncsAndFollowsTheStore checks that the informer lists the store (it would never
// sync if client-go tried its WatchList streaming on our store), then follows the watch.
func TestCacheSyncsAndFollowsTheStore(t *testing.T) {
	ctx := t.Context()
	st := openStore(t)
	reg := kinds.NewRegistry()
	client := reconciler.NewClient(st, reg)
	for _, n := range []string{"b", "a"} {
		cm := configMap(n, map[string]string{"n": n})
		cm.Labels = map[string]string{"app": n}
		if err := client.Create(ctx, cm); err != nil {
			t.Fatal(err)
		}
	}
	other := configMap("c", nil)
	other.Namespace = "other"
	if err := client.Create(ctx, other); err != nil {
		t.Fatal(err)
	}

	c := reconciler.NewCache(st, reg, reconciler.CacheOptions{})
	cms, err := reconciler.NewLister[*corev1.ConfigMap](c)
	if err != nil {
		t.Fatal(err)
	}
	cacheCtx, stop := context.WithCancel(ctx)
	defer c.Wait()
	defer stop()
	if !c.Start(cacheCtx) || c.Start(cacheCtx) {
		t.Fatal("Start should report true once, then false")
	}
	syncCtx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if !c.WaitForSync(syncCtx) || !cms.HasSynced() {
		t.Fatal("the cache did not sync")
	}

	all, err := cms.List("", nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := names(all); got != "default/a default/b other/c" {
		t.Errorf("List(all) = %s", got)
	}
	inDefault, _ := cms.List("default", labels.SelectorFromSet(labels.Set{"app": "b"}))
	if got := names(inDefault); got != "default/b" {
		t.Errorf("List(default, app=b) = %s", got)
	}
	a, err := cms.Get("default", "a")
	if err != nil || a.Data["n"] != "a" || a.Kind != "ConfigMap" || a.UID == "" {
		t.Fatalf("Get(default/a) = %+v, %v", a, err)
	}
	a.Data["n"] = "changed" // a copy: the cache must not see this
	if again, _ := cms.Get("default", "a"); again.Data["n"] != "a" {
		t.Error("modifying a Lister's object changed the cache")
	}

	// A lister made after Start gets a running informer.
	secrets, err := reconciler.NewLister[*corev1.Secret](c)
	if err != nil {
		t.Fatal(err)
	}
	if err := client.Create(ctx, ownedSecret("late", nil)); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the late lister to see its object", func() (bool, string) {
		_, err := secrets.Get("default", "late")
		return err == nil, fmt.Sprint(err)
	})

	// Changes arrive through the watch.
	if err := client.Delete(ctx, configMap("a", nil)); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the delete to reach the cache", func() (bool, string) {
		_, err := cms.Get("default", "a")
		return apierrors.IsNotFound(err), fmt.Sprint(err)
	})
}

func names[T interface {
	GetNamespace() string
	GetName() string
}](objs []T) string {
	out := ""
	for i, o := range objs {
		if i > 0 {
			out += " "
		}
		out += o.GetNamespace() + "/" + o.GetName()
	}
	return out
}
