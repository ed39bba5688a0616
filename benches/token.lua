-- wrk script: client credentials grant (RFC 6749 §4.4) at the token endpoint.
--
--   wrk ... -s benches/token.lua URL -- 'Basic ...'
--
-- One fixed request (wrk formats it once). response() counts non-200 answers and answers
-- without an access_token; done() prints them on one "usher-check:" line.

local threads = {}

function setup(thread)
   table.insert(threads, thread)
end

function init(args)
   responses, non200, missing = 0, 0, 0
   wrk.method = "POST"
   wrk.path = "/oauth/token"
   wrk.body = "grant_type=client_credentials"
   wrk.headers["Authorization"] = args[1]
   wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
end

function response(status, headers, body)
   responses = responses + 1
   if status ~= 200 then
      non200 = non200 + 1
   elseif not string.find(body, '"access_token":"', 1, true) then
      missing = missing + 1
   end
end

function done(summary, latency, requests)
   local r, n, m = 0, 0, 0
   for _, thread in ipairs(threads) do
      r = r + thread:get("responses")
      n = n + thread:get("non200")
      m = m + thread:get("missing")
   end
   io.write(string.format("usher-check: responses=%d non200=%d inactive=%d tokens=0\n", r, n, m))
end
