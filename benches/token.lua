-- wrk script: client credentials grant (RFC 6749 §4.4) at the token endpoint.
--
--   wrk ... -s benches/token.lua URL -- 'Basic ...' [pace=MS] [record=FILE count=N]
--
-- One fixed request (wrk formats it once). response() counts non-200 answers and answers
-- without an access_token; done() prints them on one "usher-check:" line, with the answers
-- 5xx (server_errors), the 503 answers with a Retry-After header (retry_after_503) and the
-- slowest answer (max_us).
-- With "pace=MS", each connection waits MS milliseconds after an answer before its next
-- request. With "record=FILE count=N", the access tokens of the first N answers are written
-- to FILE (thread i writes FILE.i), one per line; then the thread stops and says so on
-- stderr, and the driver interrupts wrk: the fastest way to mint many tokens over HTTP.
-- USHER_WRK_PORTS spreads the threads over several instances, as in introspect.lua.

local threads = {}

function setup(thread)
   table.insert(threads, thread)
   thread:set("index", #threads)
   local ports = os.getenv("USHER_WRK_PORTS")
   if ports and #ports > 0 then
      local list = {}
      for port in string.gmatch(ports, "%d+") do
         table.insert(list, port)
      end
      thread.addr = wrk.lookup("127.0.0.1", list[(#threads - 1) % #list + 1])[1]
   end
end

function init(args)
   responses, non200, missing, server_errors, retry_after_503, recorded = 0, 0, 0, 0, 0, 0
   pace, record, count = nil, nil, nil
   for index = 2, #args do
      local option = args[index]
      if string.sub(option, 1, 5) == "pace=" then
         pace = tonumber(string.sub(option, 6))
      elseif string.sub(option, 1, 7) == "record=" then
         record = assert(io.open(string.sub(option, 8) .. "." .. index_of_thread(), "w"))
      elseif string.sub(option, 1, 6) == "count=" then
         count = tonumber(string.sub(option, 7))
      else
         error("unknown argument: " .. option)
      end
   end
   assert((record == nil) == (count == nil), "record= and count= go together")
   wrk.method = "POST"
   wrk.path = "/oauth/token"
   wrk.body = "grant_type=client_credentials"
   wrk.headers["Authorization"] = args[1]
   wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
end

function index_of_thread()
   return index
end

function delay()
   return pace or 0
end

function response(status, headers, body)
   responses = responses + 1
   if status >= 500 then
      server_errors = server_errors + 1
      if status == 503 and (headers["Retry-After"] or headers["retry-after"]) then
         retry_after_503 = retry_after_503 + 1
      end
   end
   if status ~= 200 then
      non200 = non200 + 1
      return
   end
   local token = string.match(body, '"access_token":"([^"]+)"')
   if not token then
      missing = missing + 1
   elseif record and recorded < count then
      record:write(token, "\n")
      recorded = recorded + 1
      if recorded == count then
         record:close()
         io.stderr:write("usher-cold-pass-done\n")
         io.stderr:flush()
         wrk.thread:stop()
      end
   end
end

function done(summary, latency, requests)
   local r, n, m, e, a = 0, 0, 0, 0, 0
   for _, thread in ipairs(threads) do
      r = r + thread:get("responses")
      n = n + thread:get("non200")
      m = m + thread:get("missing")
      e = e + thread:get("server_errors")
      a = a + thread:get("retry_after_503")
   end
   io.write(string.format(
      "usher-check: responses=%d non200=%d inactive=%d tokens=0 server_errors=%d retry_after_503=%d max_us=%d\n",
      r, n, m, e, a, latency.max))
end
