#!/bin/sh
# release.sh builds an edged release into DIST (default dist/):
#
#   scripts/release.sh X.Y.Z
#
#   DIST/edged-linux-ARCH, DIST/edgectl-linux-ARCH   static, stripped, -trimpath,
#                                    stamped with main.version=X.Y.Z, for ARCH in
#                                    amd64 arm64 armv7 armv6 (the names that
#                                    `edgectl update-agent --binary` expects)
#   DIST/edged_X.Y.Z_DEBARCH.deb     amd64, arm64 and armhf (see below)
#   DIST/SHA256SUMS                  sha256sum of every file above
#   DIST/SHA256SUMS.sig              an ota/sign manifest over SHA256SUMS
#                                    (go run ./scripts/release verify checks it)
#
# The signing key is RELEASE_KEY (a signing key file certified for "agent",
# from `edgectl keys init DIR --purpose agent`). Without it a throwaway root
# and signing key are generated in DIST/keys and the release is only good
# for testing. ARCHES limits the architectures (default all four).
#
# armhf: Debian's armhf port needs ARMv7, but Raspberry Pi OS's 32-bit armhf
# is built for ARMv6 and runs on every Pi from the Zero and 1 up. So the
# armhf .deb carries the GOARM=6 binary, which runs on both; the armv7
# binary is for manual installs and agent updates (variant linux-armv7).
# There is no armel package: Debian's armel is ARMv5, which Go's GOARM=5
# soft-float build would serve, but no target board needs it.
#
# The .debs are built by nfpm: NFPM names the binary (`make release` passes
# the pinned one it installs from the Go module proxy), else nfpm in PATH.
set -eu

[ $# = 1 ] || {
	sed -n '2,/^$/s/^# \{0,1\}//p' "$0" >&2
	exit 2
}
version=$1
case $version in
[0-9]*.[0-9]*.[0-9]*) ;;
*)
	echo "release.sh: version $version: want X.Y.Z" >&2
	exit 2
	;;
esac
cd "$(dirname "$0")/.."
dist=${DIST:-dist}
arches=${ARCHES:-amd64 arm64 armv7 armv6}
nfpm=${NFPM:-$(command -v nfpm || true)}
go=${GO:-go}
if [ -z "$nfpm" ] || [ ! -x "$nfpm" ]; then
	echo "release.sh: nfpm not found: set NFPM=path/to/nfpm or run: make nfpm" >&2
	exit 1
fi

rm -rf "$dist"
mkdir -p "$dist"
export CGO_ENABLED=0
for arch in $arches; do
	case $arch in
	amd64 | arm64) goarch=$arch goarm= ;;
	armv7) goarch=arm goarm=7 ;;
	armv6) goarch=arm goarm=6 ;;
	*)
		echo "release.sh: unknown arch $arch; want amd64 arm64 armv7 armv6" >&2
		exit 2
		;;
	esac
	out=$dist/.build/linux-$arch
	GOOS=linux GOARCH=$goarch GOARM=$goarm $go build -trimpath \
		-ldflags "-s -w -X main.version=$version" -o "$out/" ./cmd/edged ./cmd/edgectl
	for b in edged edgectl; do
		if readelf -d "$out/$b" 2>/dev/null | grep -q NEEDED; then
			echo "release.sh: $out/$b is dynamically linked" >&2
			exit 1
		fi
		cp "$out/$b" "$dist/$b-linux-$arch"
	done
	case $arch in
	amd64 | arm64) debarch=$arch ;;
	armv6) debarch=armhf ;;
	*) continue ;;
	esac
	EDGED_VERSION=$version EDGED_DEB_ARCH=$debarch EDGED_BIN=$out \
		"$nfpm" package --config packaging/deb/nfpm.yaml --packager deb \
		--target "$dist/edged_${version}_$debarch.deb" >"$dist/.build/nfpm.log" 2>&1 || {
		cat "$dist/.build/nfpm.log" >&2
		exit 1
	}
done
# TODO(release, dynamic delegates): the edged_dynamic flavour (cgo,
# dlopen of libtensorflowlite_c and libedgetpu) for amd64, arm64 and armv7
# goes here: build edged-dynamic-linux-ARCH with its cross toolchain and,
# if it gets packages, an edged-dynamic .deb that Conflicts/Provides edged.
$go build -o "$dist/.build/release" ./scripts/release
release=$dist/.build/release

# Dot files stay out of the glob: the sums cover the release files only.
(cd "$dist" && sha256sum -- *) >"$dist/.SHA256SUMS.tmp"
mv "$dist/.SHA256SUMS.tmp" "$dist/SHA256SUMS"

key=${RELEASE_KEY:-}
if [ -z "$key" ]; then
	"$release" keygen "$dist/keys" >&2
	key=$dist/keys/signing.key
	cat >&2 <<-MSG
		######################################################################
		# RELEASE_KEY is not set: SHA256SUMS is signed with a THROWAWAY key  #
		# generated in $dist/keys. Nobody can trust this release; sign real  #
		# ones with RELEASE_KEY=path/to/signing.key (certified for agent).   #
		######################################################################
	MSG
fi
"$release" sign -key "$key" -version "$version" "$dist"
rm -rf "$dist/.build"
