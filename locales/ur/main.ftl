## زبان کا انتخاب، ہر صفحے کے اوپر۔ `language-name` ہر زبان کا اپنا نام ہے۔

language-name = اردو
language-choice = زبان

## کئی صفحوں میں مشترک۔

signed-in-as = آپ { $email } سے سائن اِن ہیں
recovery-codes-left = { $count ->
    [one] ایک ریکوری کوڈ باقی ہے جو ابھی استعمال نہیں ہوا۔
   *[other] { $count } ریکوری کوڈ باقی ہیں جو ابھی استعمال نہیں ہوئے۔
}
