#!/bin/bash
# bench/media/run.sh: photos made fit for mail per second, and peak RSS, for
# camera-sized JPEGs: the mailer's media_image_derive() against vipsthumbnail
# and ImageMagick's convert doing the same work in the same run.
#
#   bench/media/run.sh [-n PHOTOS] [-r ROUNDS]      (default 8 photos, 5 rounds)
#
# The work, per photo, for each of the three: decode a 4000 x 3000 camera JPEG
# (~5 MB, quality 92, EXIF orientation 6), turn it upright, make the share's
# body image (fit in 1200 x 3600) and the digest's thumbnail (240 x 160,
# centre crop), both progressive JPEG at quality 80 without metadata.
#   mailer         bench_media derive: media_image_derive() for both uses, one
#                  process for all photos ([media] threads = 1, the default)
#   mailer-t2      the same with [media] threads = 2
#   vipsthumbnail  two processes per round (one per use) over all photos,
#                  VIPS_CONCURRENCY=1
#   convert        ImageMagick 6, two processes per photo, with the
#                  jpeg:size hint (its shrink-on-load), MAGICK_THREAD_LIMIT=1
# Rounds alternate the order of the tools; each figure is the median over
# rounds of photos / wall-clock seconds (process start included for all);
# peak RSS is the largest ru_maxrss of any of its processes (GNU time %M).
# Prints the load average before and after: the machine may be shared.
# Not part of the test suite (no timings in tests).
set -euo pipefail
n=8 rounds=5
while [ $# -gt 0 ]; do
  case $1 in
    -n) n=$2; shift 2 ;;
    -r) rounds=$2; shift 2 ;;
    *) echo "usage: $0 [-n PHOTOS] [-r ROUNDS]" >&2; exit 1 ;;
  esac
done
SRC=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${MAILER_BENCH_BUILD:-$SRC/build-bench}
WORK=$(mktemp -d /tmp/bench-media.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
CONVERT=/usr/bin/convert # ImageMagick itself, not whatever else is first on PATH
for t in vips vipsthumbnail exiftool; do command -v $t >/dev/null || { echo "$t missing: scripts/setup.sh" >&2; exit 1; }; done
[ -x $CONVERT ] && [ -x /usr/bin/time ] || { echo "$CONVERT or /usr/bin/time missing" >&2; exit 1; }

cmake -S "$SRC" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$BUILD" --target articles db config core -j"$(nproc)" >/dev/null
L=$BUILD/mailer
gcc -std=c11 -O2 -D_GNU_SOURCE -DMAILER_SOURCE_DIR="\"$SRC\"" \
  -I"$SRC/mailer/core" -I"$SRC/mailer/config" -I"$SRC/mailer/db" -I"$SRC/mailer/articles" \
  $(pkg-config --cflags vips) "$SRC/bench/media/bench_media.c" -o "$WORK/bench_media" \
  "$L/articles/libarticles.a" "$L/config/libconfig.a" "$L/db/libdb.a" "$L/core/libcore.a" \
  $(pkg-config --libs vips jansson libcurl sqlite3 openssl inih) -lpthread

echo "making $n camera photos (4000 x 3000, ~5 MB each)..."
T=$WORK/tex
mkdir -p "$T" "$WORK/in" "$WORK/out"
i=0
for cell in 300 24 10; do
  i=$((i + 1))
  vips perlin "$T/p$i.v" 4000 3000 --cell-size $cell --seed $i
done
printf '3 3\n90 40 25\n40 90 25\n60 30 40\n' >"$T/mix.mat"
vips bandjoin "$T/p1.v $T/p2.v $T/p3.v" "$T/pj.v"
vips recomb "$T/pj.v" "$T/pr.v" "$T/mix.mat"
vips gaussnoise "$T/n.v" 4000 3000 --sigma 8 --mean 0
vips bandjoin "$T/n.v $T/n.v $T/n.v" "$T/n3.v"
vips add "$T/pr.v" "$T/n3.v" "$T/s.v"
for k in $(seq 1 "$n"); do
  vips linear "$T/s.v" "$WORK/in/cam$k.jpg[Q=92]" 1 $((120 + k)) --uchar
  exiftool -q -overwrite_original -n -Orientation=6 -GPSLatitude=22.82 -GPSLatitudeRef=N \
    -GPSLongitude=104.98 -GPSLongitudeRef=E "$WORK/in/cam$k.jpg"
done
rm -rf "$T"
files=("$WORK"/in/*.jpg)
echo "  $(du -ch "${files[@]}" | tail -1 | cut -f1) in ${#files[@]} files"
printf '[media]\nthreads = 2\n' >"$WORK/t2.ini"

# run_TOOL: does the work once over all photos; prints "SECONDS PEAK_KB".
timed() { # command... -> appends "seconds maxrss_kb" of one process to $WORK/t
  /usr/bin/time -a -o "$WORK/t" -f "%e %M" "$@" >/dev/null 2>>"$WORK/err"
}
run_mailer() { MAILER_LOG=warn timed "$WORK/bench_media" derive 1 "${files[@]}"; }
run_mailer-t2() { MAILER_CONFIG=$WORK/t2.ini MAILER_LOG=warn timed "$WORK/bench_media" derive 1 "${files[@]}"; }
run_vipsthumbnail() {
  VIPS_CONCURRENCY=1 timed vipsthumbnail -s 1200x3600 \
    -o "$WORK/out/%s-body.jpg[Q=80,interlace,optimize_coding,strip]" "${files[@]}"
  VIPS_CONCURRENCY=1 timed vipsthumbnail -s 240x160 --smartcrop centre \
    -o "$WORK/out/%s-thumb.jpg[Q=80,interlace,optimize_coding,strip]" "${files[@]}"
}
run_convert() {
  for f in "${files[@]}"; do
    b=$(basename "$f" .jpg)
    MAGICK_THREAD_LIMIT=1 timed $CONVERT -define jpeg:size=2400x1800 "$f" -auto-orient \
      -thumbnail '1200x3600>' -colorspace sRGB -strip -interlace JPEG -quality 80 \
      "$WORK/out/$b-im-body.jpg"
    MAGICK_THREAD_LIMIT=1 timed $CONVERT -define jpeg:size=480x360 "$f" -auto-orient \
      -thumbnail '240x160^' -gravity center -extent 240x160 -colorspace sRGB -strip \
      -interlace JPEG -quality 80 "$WORK/out/$b-im-thumb.jpg"
  done
}
tools=(mailer mailer-t2 vipsthumbnail convert)
declare -A rates peaks
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
for r in $(seq 1 "$rounds"); do
  order=("${tools[@]:$(( (r - 1) % ${#tools[@]} ))}" "${tools[@]:0:$(( (r - 1) % ${#tools[@]} ))}")
  for t in "${order[@]}"; do
    : >"$WORK/t"
    "run_$t"
    read -r secs peak < <(awk '{s += $1; if ($2 > m) m = $2} END {print s, m}' "$WORK/t")
    rates[$t]+="$(echo "$n / $secs" | bc -l) "
    peaks[$t]+="$peak "
  done
  echo "  round $r: ${order[*]}"
done
echo "load average after:  $(cut -d' ' -f1-3 /proc/loadavg)"
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
printf '%-14s %14s %16s\n' tool "photos/s" "peak RSS (MB)"
for t in "${tools[@]}"; do
  m=$(echo "${rates[$t]}" | median)
  p=$(echo "${peaks[$t]}" | tr ' ' '\n' | sort -n | tail -1)
  eval "med_${t//-/_}=$m"
  printf '%-14s %14.2f %16.1f\n' "$t" "$m" "$(echo "$p / 1024" | bc -l)"
done
printf 'ratio mailer / vipsthumbnail: %.2f\n' "$(echo "$med_mailer / $med_vipsthumbnail" | bc -l)"
printf 'ratio mailer / convert:       %.2f\n' "$(echo "$med_mailer / $med_convert" | bc -l)"
printf 'ratio mailer threads=2 / threads=1: %.2f\n' "$(echo "$med_mailer_t2 / $med_mailer" | bc -l)"
if [ -s "$WORK/err" ]; then echo "stderr of the runs:"; sort -u "$WORK/err" | head -5; fi
