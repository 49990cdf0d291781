"""Every HTTP refusal's code, the status it is answered with and its Traditional Chinese wording: the table in
docs/api.md ("Errors"), which tests/unit/test_api_models.py holds to this one. The API document lists each route's
codes from here; the gateway and the live server word their refusals from here."""

from __future__ import annotations

STATUS: dict[str, int] = {
    "invalid_json": 400, "invalid_body": 400, "invalid_field": 400, "invalid_input": 400, "unknown_gate": 400,
    "invalid_plan": 400, "password_too_short": 400, "password_too_common": 400,
    "personal_data": 400, "note_too_long": 400,
    "missing_token": 401, "bad_token": 401, "unknown_device": 401, "unauthorized": 401, "bad_credentials": 401,
    "forbidden": 403, "device_revoked": 403, "gate_not_enrolled": 403, "not_your_scan": 403,
    "undo_window_passed": 403, "wrong_pin": 403, "csrf": 403, "account_locked": 403,
    "not_found": 404, "unknown_code": 404, "unknown_link": 404, "not_on_roster": 404, "link_unknown": 404,
    "unknown_shift": 404, "unknown_team": 404,
    "method_not_allowed": 405,
    "request_timeout": 408,
    "day_approved": 409, "no_hours": 409, "used_code": 409, "event_closed": 409, "no_active_card": 409,
    "not_annullable": 409, "event_exists": 409, "login_taken": 409, "conflict": 409, "no_cards": 409,
    "not_movable": 409, "no_pii_key": 409, "key_retired": 409, "own_account": 409,
    "expired_code": 410, "card_revoked": 410, "link_used": 410, "link_expired": 410,
    "body_too_large": 413,
    "scan_in_future": 422, "outside_event_dates": 422, "roster_refused": 422, "assignments_refused": 422,
    "rate_limited": 429, "too_many_pin_tries": 429, "signin_wait": 429,
    "backlogged": 503, "unavailable": 503, "rebuilding": 503, "retry": 503,
}

# Who may call a route, and what a wrong or missing token is answered with (docs/security.md).
AUTH_ERRORS: dict[str, tuple[str, ...]] = {
    "none": (),
    "device": ("missing_token", "bad_token", "unknown_device", "device_revoked"),
    "user": ("unauthorized", "forbidden"),
    "device_or_user": ("missing_token", "bad_token", "unknown_device", "device_revoked", "unauthorized",
                       "forbidden"),
    "card_link": ("invalid_field", "unknown_link", "card_revoked"),
}

# Each code in Traditional Chinese, sent as `message_zh` beside the English `message` of every refusal, so a page
# read in Chinese never shows an English sentence (a refusal with a wording of its own, e.g. a broken setting's
# rule, sends that instead). Codes outside STATUS are the catch-alls of the error middleware.
WORDS_ZH: dict[str, str] = {
    "invalid_json": "內容不是有效的 JSON", "invalid_body": "請求內容的格式不對",
    "invalid_field": "有欄位缺少或內容有誤", "invalid_input": "資料庫不接受這次請求中的某個值",
    "unknown_gate": "沒有活動使用這個閘口", "invalid_plan": "活動計畫有問題，未寫入任何資料",
    "password_too_short": "密碼太短", "password_too_common": "密碼太常見，請換一個",
    "personal_data": "注意事項不可含身分證號、電話或電子郵件", "note_too_long": "注意事項超過 80 字",
    "missing_token": "缺少權杖", "bad_token": "權杖格式不對或無效", "unknown_device": "不認得這台裝置",
    "unauthorized": "請先登入（或登入已失效）", "bad_credentials": "帳號或密碼不對",
    "forbidden": "沒有權限做這件事", "device_revoked": "這台裝置已停用", "gate_not_enrolled": "這台裝置不屬於這個閘口",
    "not_your_scan": "只能撤銷本裝置的掃描", "undo_window_passed": "已超過可撤銷的時間", "wrong_pin": "PIN 碼不對",
    "csrf": "請重新整理頁面後再試（缺少防偽驗證）", "account_locked": "密碼錯誤太多次，帳號已鎖定，請洽管理員",
    "not_found": "找不到", "unknown_code": "登錄碼不存在", "unknown_link": "連結不存在",
    "not_on_roster": "不在這個活動的名冊上", "link_unknown": "連結不存在", "unknown_shift": "沒有這個班別",
    "unknown_team": "沒有這個隊",
    "method_not_allowed": "不支援這種操作方式", "request_timeout": "請求內容未在時限內送達",
    "day_approved": "當日時數已核定，請洽辦公室更正", "no_hours": "尚無時數可開立證明", "used_code": "登錄碼已使用過",
    "event_closed": "活動已關閉", "no_active_card": "沒有有效的服務卡", "not_annullable": "只有簽到或簽退可以撤銷",
    "event_exists": "已有相同代碼的活動", "login_taken": "這個帳號名稱已有人使用", "conflict": "與目前的狀態衝突",
    "no_cards": "尚無服務卡可列印", "not_movable": "裝置無法移到這個閘口", "no_pii_key": "尚未設定身分證號的加密金鑰",
    "key_retired": "簽章金鑰已停用，請移開金鑰檔以產生新金鑰",
    "own_account": "不能停用自己的帳號，請由另一位管理員停用",
    "expired_code": "登錄碼已過期", "card_revoked": "此卡已停用", "link_used": "連結已使用過", "link_expired": "連結已過期",
    "body_too_large": "請求內容太大",
    "scan_in_future": "掃描時間在未來，請檢查裝置的時鐘", "outside_event_dates": "掃描時間不在活動期間內",
    "roster_refused": "名冊檔有問題，未寫入任何資料", "assignments_refused": "排班檔有問題，未寫入任何資料",
    "rate_limited": "請求太頻繁，請稍後再試", "too_many_pin_tries": "PIN 碼錯誤太多次，請稍後再試",
    "signin_wait": "登入嘗試太頻繁，請稍後再試",
    "backlogged": "系統忙碌，掃描已保留，稍後自動重送", "unavailable": "系統暫時無法連線，請稍後再試",
    "rebuilding": "系統正在重建活動資料，請稍後再試", "retry": "請稍後再試",
    "bad_request": "請求格式不對", "unsupported_media_type": "不支援的內容類型", "http_error": "請求未能完成",
    "connection_lost": "連線中斷", "internal_error": "系統發生錯誤，這筆掃描未儲存",
}
GENERIC_ZH = "請求未能完成"


def worded_zh(code: str, field: object = None) -> str:
    """A refusal's Traditional Chinese wording from its code; a wrong field is named, as the English names it."""
    words = WORDS_ZH.get(code, GENERIC_ZH)
    return f"{words}：{field}" if code == "invalid_field" and isinstance(field, str) and field else words
