-- wrk script: RFC 7662 introspection, each request a different access token.
--
--   wrk ... -s benches/introspect.lua URL -- TOKEN_FILE 'Basic ...' [cold] [expect=TEXT] [pace=MS] [stream]
--
-- Every request is pre-formatted in init() so request() only indexes a table: the load
-- generator does as little per-request work as possible. Tokens are used round robin.
-- response() counts non-200 answers and answers that are not {"active":true,...}; done()
-- prints them on one "usher-check:" line that benches/usher_bench.py parses.
-- With "cold", the thread stops after one pass over the tokens and tells the driver, which
-- interrupts wrk: that run measures first sightings (an ES256 verification each) and fills
-- the server's verified-token cache. Use it with -t1.
-- With "expect=TEXT" (e.g. expect="tier":"premium" for people's tokens with entitlements),
-- active answers that do not contain TEXT are counted as "unentitled".
-- With "pace=MS", each connection waits MS milliseconds after an answer before its next
-- request: a fixed offered load (connections / pace) instead of as fast as the server goes.
-- With "stream", tokens are read from the file as requests are made instead of all at once
-- (a million pre-formatted requests would take most of a gigabyte in every wrk thread).
-- With USHER_WRK_PORTS=P1,P2,... in the environment, wrk thread i connects to 127.0.0.1 on
-- port P(i mod n): one wrk spreads its load over several server instances, and its latency
-- figures cover all of them.
-- done() also reports answers 5xx (server_errors), 503 answers with a Retry-After header
-- (retry_after_503) and the slowest answer (max_us: exact, unlike the percentiles, which wrk
-- corrects for coordinated omission with made-up samples, so they cannot count slow answers).

local threads = {}

function setup(thread)
   table.insert(threads, thread)
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
   -- globals, so done() can read them with thread:get()
   responses, non200, inactive, unentitled, tokens = 0, 0, 0, 0, 0
   server_errors, retry_after_503 = 0, 0
   cold, expect, pace, stream = false, nil, nil, false
   for index = 3, #args do
      local option = args[index]
      if option == "cold" then
         cold = true
      elseif option == "stream" then
         stream = true
      elseif string.sub(option, 1, 7) == "expect=" then
         expect = string.sub(option, 8)
      elseif string.sub(option, 1, 5) == "pace=" then
         pace = tonumber(string.sub(option, 6))
      else
         error("unknown argument: " .. option)
      end
   end
   head = "POST /oauth/introspect HTTP/1.1\r\nHost: " .. wrk.host .. ":" .. wrk.port
      .. "\r\nAuthorization: " .. args[2]
      .. "\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: "
   file = assert(io.open(args[1], "r"))
   if stream then
      pass_length = nil -- known once the first pass reaches the end of the file
      return
   end
   prepared = {}
   for line in file:lines() do
      if #line > 0 then
         tokens = tokens + 1
         prepared[tokens] = wrk.format("POST", "/oauth/introspect", {
            ["Authorization"] = args[2],
            ["Content-Type"] = "application/x-www-form-urlencoded",
         }, "token=" .. line)
      end
   end
   file:close()
   assert(tokens > 0, "no tokens in " .. args[1])
   next_index = 0
end

local function next_streamed()
   local line = file:read("*l")
   if not line or #line == 0 then
      pass_length = pass_length or tokens
      assert(pass_length > 0, "no tokens in the token file")
      file:seek("set", 0)
      line = file:read("*l")
   end
   if not pass_length then
      tokens = tokens + 1
   end
   return head .. (#line + 6) .. "\r\n\r\ntoken=" .. line
end

function request()
   if stream then
      return next_streamed()
   end
   next_index = next_index + 1
   if next_index > tokens then
      next_index = 1
   end
   return prepared[next_index]
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
   elseif not string.find(body, '"active":true', 1, true) then
      inactive = inactive + 1
   elseif expect and not string.find(body, expect, 1, true) then
      unentitled = unentitled + 1
   end
   local pass = stream and pass_length or (not stream and tokens)
   if cold and pass and responses == pass then
      -- wrk's main thread sleeps for the whole -d duration; the driver sends wrk SIGINT
      -- when it reads this line, so the reported rate covers the pass only.
      io.stderr:write("usher-cold-pass-done\n")
      io.stderr:flush()
      wrk.thread:stop()
   end
end

function done(summary, latency, requests)
   local r, n, i, u, t, e, a = 0, 0, 0, 0, 0, 0, 0
   for _, thread in ipairs(threads) do
      r = r + thread:get("responses")
      n = n + thread:get("non200")
      i = i + thread:get("inactive")
      u = u + thread:get("unentitled")
      e = e + thread:get("server_errors")
      a = a + thread:get("retry_after_503")
      t = thread:get("tokens")
   end
   io.write(string.format(
      "usher-check: responses=%d non200=%d inactive=%d tokens=%d unentitled=%d server_errors=%d retry_after_503=%d max_us=%d\n",
      r, n, i, t, u, e, a, latency.max))
end
