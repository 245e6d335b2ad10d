local n = math.random(1, 1000000000)
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
request = function()
    n = n + 1
    return wrk.format(nil, nil, nil, string.format('{"name":"Bench account %d","industry":"SOFTWARE","city":"Oslo","annual_revenue":1000}', n))
end
