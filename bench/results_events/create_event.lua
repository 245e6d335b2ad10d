wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"name":"Bench call","event_type":"call","start":"2027-03-01T10:00:00Z","end":"2027-03-01T10:30:00Z"}'
