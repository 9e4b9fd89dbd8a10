//! The bundled demo image (`assets/demo.tar`): a small Python app on an Alpine-like base, built the
//! wasteful way so that every kind of change and waste shows up.

use super::{Attrs, Image, Layer};

/// Deterministic incompressible-looking bytes.
pub fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

const OS_RELEASE: &str = "NAME=\"Alpine Linux\"\nID=alpine\nVERSION_ID=3.20.3\nPRETTY_NAME=\"Alpine Linux v3.20\"\nHOME_URL=\"https://alpinelinux.org/\"\n";

const MAIN_PY: &str = "#!/usr/bin/env python3\n\"\"\"A tiny web service used by the layerscope demo image.\"\"\"\n\nimport json\nimport os\n\n\ndef handler(path):\n    with open(os.path.join(\"/app/data\", path)) as f:\n        return json.load(f)\n\n\nif __name__ == \"__main__\":\n    print(handler(\"settings.json\"))\n";

/// The demo image.
pub fn demo_image() -> Image {
    let base = Layer::new()
        .dir("bin")
        .file_with("bin/busybox", &noise(1, 60_000), Attrs::FILE.mode(0o755))
        .symlink("bin/sh", "/bin/busybox")
        .symlink("bin/ls", "/bin/busybox")
        .hardlink("bin/cat", "bin/busybox")
        .dir("dev")
        .char_device("dev/null", 1, 3)
        .dir("etc")
        .file("etc/alpine-release", b"3.20.3\n")
        .file("etc/os-release", OS_RELEASE.as_bytes())
        .file("etc/motd", b"Welcome to Alpine!\n")
        .file("etc/passwd", b"root:x:0:0:root:/root:/bin/sh\n")
        .dir("lib")
        .file_with("lib/ld-musl-x86_64.so.1", &noise(2, 30_000), Attrs::FILE.mode(0o755))
        .dir_with("tmp", Attrs::DIR.mode(0o1777))
        .dir("var")
        .dir("var/cache")
        .dir("var/cache/apk");

    let python = Layer::new()
        .dir("usr")
        .dir("usr/bin")
        .file_with("usr/bin/python3.12", &noise(3, 40_000), Attrs::FILE.mode(0o755))
        .symlink("usr/bin/python3", "python3.12")
        .dir("usr/lib")
        .dir("usr/lib/python3.12")
        .file("usr/lib/python3.12/json.py", &noise(4, 8_000))
        .file("usr/lib/python3.12/os.py", &noise(5, 9_000))
        .dir("usr/lib/python3.12/__pycache__")
        .file("usr/lib/python3.12/__pycache__/json.cpython-312.pyc", &noise(6, 6_000))
        .dir("var")
        .dir("var/cache")
        .dir("var/cache/apk")
        .file("var/cache/apk/APKINDEX.tar.gz", &noise(7, 25_000))
        .file("var/cache/apk/python3-3.12.apk", &noise(8, 20_000));

    let app = Layer::new()
        .dir("app")
        .file("app/main.py", MAIN_PY.as_bytes())
        .file("app/requirements.txt", b"flask==3.0.3\n")
        .dir("app/data")
        .file("app/data/settings.json", b"{\"debug\": false, \"port\": 8080}\n")
        .file("app/data/model.bin", &noise(9, 30_000))
        .file("app/data/model-copy.bin", &noise(9, 30_000))
        .dir("app/logs")
        .file("app/logs/build.log", &noise(10, 12_000));

    let fixups = Layer::new()
        .dir("app")
        .file_with("app/main.py", MAIN_PY.as_bytes(), Attrs::FILE.mode(0o755))
        .dir_with("app/data", Attrs::DIR.owner(1000, 1000))
        .file_with("app/data/model.bin", &noise(9, 30_000), Attrs::FILE.owner(1000, 1000))
        .dir("etc")
        .file("etc/motd", b"Welcome to the layerscope demo!\n");

    let cleanup = Layer::new()
        .dir("app")
        .opaque("app/logs")
        .dir("app/logs")
        .file("app/logs/.keep", b"")
        .dir("var")
        .dir("var/cache")
        .dir("var/cache/apk")
        .whiteout("var/cache/apk/APKINDEX.tar.gz")
        .whiteout("var/cache/apk/python3-3.12.apk")
        .dir("usr")
        .dir("usr/lib")
        .dir("usr/lib/python3.12")
        .whiteout("usr/lib/python3.12/__pycache__")
        .dir("run")
        .fifo("run/app.sock");

    Image::new()
        .tags(&["layerscope/demo:latest"])
        .layer(base, "/bin/sh -c #(nop) ADD file:3b8c4e0d0f1a2b3c4d5e6f708192a3b4 in / ")
        .instruction("/bin/sh -c #(nop)  CMD [\"/bin/sh\"]")
        .layer(python, "/bin/sh -c apk add python3")
        .instruction("/bin/sh -c #(nop) WORKDIR /app")
        .layer(app, "/bin/sh -c #(nop) COPY dir:5f1e2d3c4b5a69788796a5b4c3d2e1f0 in /app ")
        .layer(fixups, "/bin/sh -c chmod +x /app/main.py && chown -R 1000:1000 /app/data && echo 'Welcome to the layerscope demo!' > /etc/motd")
        .layer(cleanup, "/bin/sh -c rm -rf /var/cache/apk/* /usr/lib/python3.12/__pycache__ /app/logs && mkdir /app/logs && touch /app/logs/.keep && mkfifo /run/app.sock")
        .instruction("/bin/sh -c #(nop)  USER 1000:1000")
        .instruction("/bin/sh -c #(nop)  CMD [\"python3\" \"/app/main.py\"]")
}
