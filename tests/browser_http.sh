#!/bin/sh
# browser_http.sh - a real browser against "nettool serve http": headless
# Chromium shows a listing whose file names are UTF-8 (and HTML-special),
# loads a page whose image has a UTF-8 name (its onload handler writes the
# image's size into the title, which --dump-dom shows), and renders it: the
# screenshot has the image's pixels.  Skipped when Chromium is missing.
. "${top_srcdir:-.}/tests/lib.sh"

CHROMIUM=
for c in chromium chromium-browser; do
    command -v "$c" >/dev/null 2>&1 && CHROMIUM=$c && break
done
if [ -z "$CHROMIUM" ]; then
    t_skip 8 "no chromium (Debian package chromium)"
    t_done
fi

W=$T/www
mkdir -p "$W/list" "$W/page"
for n in 'plain.txt' 'ünïcödé ✓.txt' '日本語 файл.txt' 'a&b <c>.html' '100% sure.txt'; do
    printf 'x\n' >"$W/list/$n"
done
mkdir "$W/list/Ordner ü"
# A 40x20 PNG of one colour (rgb 200,30,60), written without any imaging
# library.
"$PY" - "$W/page/bild-ü.png" <<'EOF'
import struct, sys, zlib
w, h = 40, 20
raw = b"".join(b"\0" + bytes([200, 30, 60]) * w for _ in range(h))
def chunk(t, d):
    return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)) \
    + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
open(sys.argv[1], "wb").write(png)
EOF
cat >"$W/page/index.html" <<'EOF'
<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>waiting</title>
<style>body{margin:0;background:#fff}img{width:200px;height:100px;display:block}</style></head>
<body><img src="bild-ü.png" alt=""
 onload="document.title='loaded ' + this.naturalWidth + 'x' + this.naturalHeight"
 onerror="document.title='image failed'"></body></html>
EOF

# browse ARGS... URL: headless Chromium, as root needs it, with no profile
# of its own and nothing fetched but the URL.
browse() {
    _ud=$(mktemp -d "$T/chromium.XXXXXX")
    timeout 90 "$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
        --disable-background-networking --disable-component-update --disable-sync \
        --disable-dev-shm-usage --user-data-dir="$_ud" "$@" 2>>"$T/chromium.err"
}

if ! start_server browser http "$W" -l 127.0.0.1:0; then
    fail "server did not start"
    t_done
fi
A=$SRV_ADDR

dom=$(browse --dump-dom "http://$A/list/")
if [ -z "$dom" ]; then
    # Chromium that cannot start here is not a failure of the server.
    diag "chromium printed nothing: $(tail -n 5 "$T/chromium.err")"
    t_skip 8 "chromium does not run here"
    stop_server
    t_done
fi
for want in 'ünïcödé ✓.txt' '日本語 файл.txt' 'a&amp;b &lt;c&gt;.html' '100% sure.txt' 'Ordner ü/'; do
    case $dom in
    *"$want"*) pass "the listing in Chromium shows $want" ;;
    *) fail "the listing in Chromium shows $want"; diag "$dom" ;;
    esac
done

dom=$(browse --dump-dom "http://$A/page/")
case $dom in
*'<title>loaded 40x20</title>'*) pass "Chromium loads a page and its image with a UTF-8 name (onload ran)" ;;
*) fail "Chromium loads a page and its image with a UTF-8 name"; diag "$dom" ;;
esac

browse --window-size=400,300 --hide-scrollbars --screenshot="$T/shot.png" "http://$A/page/" >/dev/null
out=$("$PY" - "$T/shot.png" <<'EOF'
# Counts the screenshot's pixels of the image's colour (PNG decoded here:
# 8-bit RGB or RGBA, any filter).
import struct, sys, zlib
d = open(sys.argv[1], "rb").read()
assert d[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
i, idat, w = 8, b"", 0
while i < len(d):
    n, t = struct.unpack(">I4s", d[i:i + 8])
    body = d[i + 8:i + 8 + n]
    if t == b"IHDR":
        w, h, depth, ctype = struct.unpack(">IIBB", body[:10])
        assert depth == 8 and ctype in (2, 6), "unexpected PNG kind"
        bpp = 3 if ctype == 2 else 4
    elif t == b"IDAT":
        idat += body
    i += 12 + n
raw = zlib.decompress(idat)
stride = w * bpp
prev = bytearray(stride)
hits = 0
for y in range(h):
    f, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
    for x in range(stride):
        a = line[x - bpp] if x >= bpp else 0
        b, c = prev[x], prev[x - bpp] if x >= bpp else 0
        if f == 1: line[x] = (line[x] + a) & 255
        elif f == 2: line[x] = (line[x] + b) & 255
        elif f == 3: line[x] = (line[x] + (a + b) // 2) & 255
        elif f == 4:
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
    for x in range(0, stride, bpp):
        r, g, bl = line[x], line[x + 1], line[x + 2]
        if abs(r - 200) < 8 and abs(g - 30) < 8 and abs(bl - 60) < 8:
            hits += 1
    prev = line
print(hits)
EOF
)
# The image is shown at 200x100 CSS pixels: 20,000 at a scale of 1.
case $out in
*[!0-9]*|'') fail "the screenshot could not be read: $out" ;;
*) t_ok $(( out >= 15000 ? 0 : 1 )) "the screenshot shows the image ($out pixels of its colour)" ;;
esac

grep -q '"GET /page/bild-%C3%BC.png HTTP/1.1" 200 ' "$SRV_LOG"
t_ok $? "the server logged the browser's request for the image"
stop_server
t_done
