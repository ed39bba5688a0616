## The language selector, in every page's header. `language-name` is each language's own name
## for itself: the selector shows it as is, whatever the page's language.

language-name = English
language-choice = Language

## Shared by several pages.

signed-in-as = Signed in as { $email }
recovery-codes-left = { $count ->
    [one] { $count } unused recovery code left.
   *[other] { $count } unused recovery codes left.
}
