-- jwks: GET /.well-known/jwks.json (static request, no If-None-Match: always a full 200 body).
dofile(os.getenv("BENCH_LUA_DIR") .. "/harness.lua")

wrk.method = "GET"
