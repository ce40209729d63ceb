-- wrk script for tests/load/test_load.c: POSTs a trivial SQL run to
-- /api/analyze (the cache off, so every admitted request is a real
-- sandbox run) and counts the answers by status, per thread, plus the
-- 429/503 answers that came without Retry-After. done() prints one line
-- the test parses:
--   LBX status=200:N,429:N, ra_missing=N errors=connect:N,read:N,...
--       latency_us=p50:N,p99:N,max:N requests=N duration_us=N
-- The key comes from the environment (LEDGERBOX_LOAD_KEY), not the
-- command line, so it never shows in a process list.

local threads = {}

function setup(thread)
   table.insert(threads, thread)
end

function init(args)
   counts = {}
   ra_missing = 0
   local key = os.getenv("LEDGERBOX_LOAD_KEY") or ""
   wrk.method = "POST"
   wrk.path = "/api/analyze"
   wrk.headers["Authorization"] = "Bearer " .. key
   wrk.headers["Content-Type"] = "application/json"
   wrk.body = '{"language":"sql","dataset":"demo","code":"SELECT count(*) FROM accounts","cache":false}'
   req = wrk.format()
end

function request()
   return req
end

local function has_retry_after(headers)
   for name, value in pairs(headers) do
      if string.lower(name) == "retry-after" and tonumber(value) then
         return true
      end
   end
   return false
end

function response(status, headers, body)
   local k = tostring(status)
   counts[k] = (counts[k] or 0) + 1
   if (status == 429 or status == 503) and not has_retry_after(headers) then
      ra_missing = ra_missing + 1
   end
end

function done(summary, latency, requests)
   local total, missing = {}, 0
   for _, t in ipairs(threads) do
      for k, v in pairs(t:get("counts") or {}) do
         total[k] = (total[k] or 0) + v
      end
      missing = missing + (t:get("ra_missing") or 0)
   end
   local parts = {}
   for k, v in pairs(total) do
      table.insert(parts, k .. ":" .. v)
   end
   table.sort(parts)
   local e = summary.errors
   io.write(string.format(
      "LBX status=%s, ra_missing=%d errors=connect:%d,read:%d,write:%d,timeout:%d" ..
      " latency_us=p50:%d,p99:%d,max:%d requests=%d duration_us=%d\n",
      table.concat(parts, ","), missing, e.connect, e.read, e.write, e.timeout,
      latency:percentile(50.0), latency:percentile(99.0), latency.max,
      summary.requests, summary.duration))
end
