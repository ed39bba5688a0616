-- wrk script: RFC 7662 introspection, each request a different access token.
--
--   wrk ... -s benches/introspect.lua URL -- TOKEN_FILE 'Basic ...' [cold] [expect=TEXT]
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

local threads = {}

function setup(thread)
   table.insert(threads, thread)
end

function init(args)
   -- globals, so done() can read them with thread:get()
   responses, non200, inactive, unentitled, tokens = 0, 0, 0, 0, 0
   cold, expect = false, nil
   for index = 3, #args do
      local option = args[index]
      if option == "cold" then
         cold = true
      elseif string.sub(option, 1, 7) == "expect=" then
         expect = string.sub(option, 8)
      else
         error("unknown argument: " .. option)
      end
   end
   prepared = {}
   local file = assert(io.open(args[1], "r"))
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

function request()
   next_index = next_index + 1
   if next_index > tokens then
      next_index = 1
   end
   return prepared[next_index]
end

function response(status, headers, body)
   responses = responses + 1
   if status ~= 200 then
      non200 = non200 + 1
   elseif not string.find(body, '"active":true', 1, true) then
      inactive = inactive + 1
   elseif expect and not string.find(body, expect, 1, true) then
      unentitled = unentitled + 1
   end
   if cold and responses == tokens then
      -- wrk's main thread sleeps for the whole -d duration; the driver sends wrk SIGINT
      -- when it reads this line, so the reported rate covers the pass only.
      io.stderr:write("usher-cold-pass-done\n")
      io.stderr:flush()
      wrk.thread:stop()
   end
end

function done(summary, latency, requests)
   local r, n, i, u, t = 0, 0, 0, 0, 0
   for _, thread in ipairs(threads) do
      r = r + thread:get("responses")
      n = n + thread:get("non200")
      i = i + thread:get("inactive")
      u = u + thread:get("unentitled")
      t = thread:get("tokens")
   end
   io.write(string.format("usher-check: responses=%d non200=%d inactive=%d tokens=%d unentitled=%d\n", r, n, i, t, u))
end
