#!/usr/bin/env bash
# Builds the Kubernetes test environment's binaries, kube-apiserver and etcd, from source with
# the versions pinned in hack/kube/go.mod (a Go module of its own, apart from Eddy's), into
#
#   ${EDDY_KUBE_CACHE:-$HOME/.cache/eddy/kube}/<kubernetes version>-<etcd version>/
#
# Each binary is built only when it is missing there, so a version change in hack/kube/go.mod
# builds afresh and an unchanged one costs nothing. The cache lies outside the repository on
# purpose: it survives clean clones. The first kube-apiserver build takes about six minutes on
# a two-core machine. internal/kubetest runs this script when its binaries are missing.
#
# Prints what it does on stderr and the binaries' directory on stdout. Exits non-zero, saying
# why, when a build fails.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
mod="$root/hack/kube"

say() { echo "kube.sh: $*" >&2; }
die() {
	say "$*"
	exit 1
}

command -v go >/dev/null || die "go is not on PATH"
[ -f "$mod/go.mod" ] || die "$mod/go.mod is missing"

# version MODULE: the version hack/kube/go.mod requires of MODULE (first match, either in a
# require block or on a one-line require).
version() {
	awk -v m="$1" '
		$1 == "require" && $2 == m { print $3; exit }
		$1 == m && $2 ~ /^v/ && !seen { print $2; seen = 1; exit }
	' "$mod/go.mod"
}
kver=$(version k8s.io/kubernetes)
ever=$(version go.etcd.io/etcd/server/v3)
[ -n "$kver" ] || die "no k8s.io/kubernetes requirement in $mod/go.mod"
[ -n "$ever" ] || die "no go.etcd.io/etcd/server/v3 requirement in $mod/go.mod"

dir="${EDDY_KUBE_CACHE:-$HOME/.cache/eddy/kube}/$kver-$ever"
mkdir -p "$dir" || die "cannot create $dir"

# One build at a time: go test runs packages in parallel and more than one may ask.
exec 9>"$dir/.lock"
flock 9 || die "cannot lock $dir/.lock"

# build NAME VERSION PACKAGE LDFLAGS: go build PACKAGE into $dir/NAME unless it is there.
build() {
	local name=$1 ver=$2 pkg=$3 ldflags=$4
	if [ -x "$dir/$name" ]; then
		say "$name $ver is built: $dir/$name"
		return 0
	fi
	say "building $name $ver ($pkg) into $dir; the first build takes minutes"
	local start=$SECONDS tmp="$dir/.$name.tmp.$$"
	if ! (cd "$mod" && CGO_ENABLED=0 go build -trimpath -ldflags "$ldflags" -o "$tmp" "$pkg"); then
		rm -f "$tmp"
		die "building $name failed (see the go build output above); the module is $mod"
	fi
	mv -f "$tmp" "$dir/$name"
	say "built $name in $((SECONDS - start))s"
}

minor=${kver#v1.}
minor=${minor%%.*}
cv=k8s.io/component-base/version
build kube-apiserver "$kver" k8s.io/kubernetes/cmd/kube-apiserver \
	"-s -w -X $cv.gitVersion=$kver -X $cv.gitMajor=1 -X $cv.gitMinor=$minor -X $cv.gitTreeState=clean"
build etcd "$ever" ./etcd "-s -w"

echo "$dir"
