-- wrk script of loadtest/table.sh: POSTs one OAuth 2.0 token request per call, with
-- HTTP Basic client authentication. The form body and the base64 of `id:secret` come
-- from the environment (WRK_BODY, WRK_BASIC), so one script serves both servers.
wrk.method = "POST"
wrk.body = os.getenv("WRK_BODY") or "grant_type=client_credentials"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = "Basic " .. (os.getenv("WRK_BASIC") or "")
