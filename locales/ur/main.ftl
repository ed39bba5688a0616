## زبان کا انتخاب، ہر صفحے کے اوپر۔ `language-name` ہر زبان کا اپنا نام ہے۔

language-name = اردو
language-choice = زبان

## کئی صفحوں میں مشترک۔

signed-in-as = آپ { $email } سے سائن اِن ہیں
recovery-codes-left = { $count ->
    [one] ایک ریکوری کوڈ باقی ہے جو ابھی استعمال نہیں ہوا۔
   *[other] { $count } ریکوری کوڈ باقی ہیں جو ابھی استعمال نہیں ہوئے۔
}

## سائن اِن: login.html، login_code.html، signup.html، link_sent.html، link_continue.html۔

sign-in = سائن اِن کریں
sign-in-to-app = { $app } پر جانے کے لیے
sign-in-to-device = اپنا ٹی وی یا کوئی اور ڈیوائس جوڑنے کے لیے
sign-in-to-dashboard = ایڈمن ڈیش بورڈ میں جانے کے لیے
sign-in-to-account = اپنے اکاؤنٹ میں
email = ای میل
password = پاس ورڈ
or-without-password = یا پاس ورڈ کے بغیر
email-me-a-sign-in-link = مجھے سائن اِن کا لنک ای میل کریں
forgot-password = پاس ورڈ بھول گئے؟ سائن اِن کا لنک منگوائیں، پھر اپنے اکاؤنٹ کے صفحے پر نیا پاس ورڈ رکھ لیں۔
sign-in-with-passkey = پاس کی سے سائن اِن کریں
new-here = یہاں پہلی بار آئے ہیں؟
create-account = اکاؤنٹ بنائیں
enter-your-code = اپنا کوڈ درج کریں
two-step-sign-in = دو مرحلوں والا سائن اِن
code-from-app = اپنی آتھنٹیکیٹر ایپ میں دکھایا گیا کوڈ درج کریں
code = کوڈ
code-hint = چھ ہندسوں کا وہ کوڈ جو آپ کی ایپ اس وقت دکھا رہی ہے۔
verify = تصدیق کریں
lost-phone = فون کھو گیا؟ ریکوری کوڈ استعمال کریں
recovery-code = ریکوری کوڈ
recovery-code-hint = اُن دس کوڈز میں سے کوئی ایک جو آپ نے دو مرحلوں والا سائن اِن آن کرتے وقت محفوظ کیے تھے، جیسے { $example }۔ ہر کوڈ صرف ایک بار چلتا ہے۔
use-recovery-code = ریکوری کوڈ استعمال کریں
start-again = دوبارہ شروع کریں
signup-lead = اپنا ای میل ایڈریس درج کریں۔ ہم آپ کو ایک لنک بھیجیں گے: اسے کھولتے ہی آپ کا اکاؤنٹ بن جائے گا اور آپ سائن اِن ہو جائیں گے۔ پاس ورڈ یا پاس کی بعد میں اپنے اکاؤنٹ کے صفحے پر شامل کی جا سکتی ہے۔
email-me-a-link = مجھے لنک ای میل کریں
have-an-account = پہلے سے اکاؤنٹ ہے؟
check-your-email = اپنی ای میل دیکھیں
link-sent-signup = اگر { $email } سے یہاں سائن اِن ہو سکتا ہے تو اس پتے پر سائن اِن کا لنک بھیج دیا گیا ہے۔
link-sent-account = اگر { $email } کا یہاں اکاؤنٹ ہے تو اس پتے پر سائن اِن کا لنک بھیج دیا گیا ہے۔
link-sent-open = { $count ->
    [one] لنک { $count } منٹ کے اندر کسی بھی ڈیوائس پر کھولیں۔ یہ صرف ایک بار چلتا ہے۔
   *[other] لنک { $count } منٹ کے اندر کسی بھی ڈیوائس پر کھولیں۔ یہ صرف ایک بار چلتا ہے۔
}
link-sent-nothing = چند منٹ بعد بھی کچھ نہیں آیا؟ اپنا اسپام فولڈر اور ای میل کا پتا دیکھ لیں۔
go-back = واپس جائیں
continue-signing-in = سائن اِن جاری رکھیں
continue-as = بطور { $email }
continue-hint = آپ نے سائن اِن نہیں مانگا؟ یہ صفحہ بند کر دیں: بٹن دبائے بغیر کچھ نہیں ہو گا۔

## پہلا صفحہ (home.html)، سائن آؤٹ (logout.html، signed_out.html) اور ٹی وی کے صفحے
## (device_enter.html، device_done.html)۔

home-title = سائن اِن سروس
home-heading = پلیٹ فارم کی سائن اِن سروس
home-lead = یہاں آپ دیکھنے کے لیے سائن اِن کرتے ہیں، اور جن ایپس اور ٹی وی پر آپ دیکھتے ہیں وہ یہیں سے آپ کی پہچان کرتے ہیں۔ آپ کا اکاؤنٹ، جن ایپس کو آپ نے اجازت دی ہے اور جن ڈیوائسز پر آپ سائن اِن ہیں، سب آپ کے اکاؤنٹ کے صفحے پر ہیں۔
your-account = آپ کا اکاؤنٹ
sign-in-to-your-account = اپنے اکاؤنٹ میں سائن اِن کریں
admin-dashboard = ایڈمن ڈیش بورڈ
sign-out = سائن آؤٹ کریں
sign-out-question = سائن آؤٹ کریں؟
sign-out-lead = آپ { $email } سے سائن اِن ہیں۔ یہاں سائن آؤٹ کرنے سے اس ڈیوائس پر وہ تمام ایپس بھی سائن آؤٹ ہو جائیں گی جو یہ اکاؤنٹ استعمال کرتی ہیں۔
signed-out-title = سائن آؤٹ ہو گئے
signed-out-heading = آپ سائن آؤٹ ہو گئے ہیں
signed-out-close = آپ یہ صفحہ بند کر سکتے ہیں، یا
sign-in-again = دوبارہ سائن اِن کریں
connect-a-device = ڈیوائس جوڑیں
device-enter-lead = آپ کے ٹی وی یا کنسول پر جو کوڈ نظر آ رہا ہے وہ درج کریں۔
continue = آگے بڑھیں
device-signed-in = آپ کی ڈیوائس سائن اِن ہو گئی ہے
device-denied = درخواست رد کر دی گئی
device-allowed-lead = { $app } چند لمحوں میں آپ کے ٹی وی پر چل پڑے گی۔ آپ یہ صفحہ بند کر سکتے ہیں۔
device-signed-out-here = اس کے لیے جگہ بنانے کی خاطر یہ ڈیوائس سائن آؤٹ کر دی گئی۔
device-denied-lead = { $app } سائن اِن نہیں ہوئی۔ آپ یہ صفحہ بند کر سکتے ہیں۔
device-list-hint = آپ کے اکاؤنٹ کے صفحے پر ہر سائن اِن شدہ ڈیوائس کی فہرست موجود ہے۔
