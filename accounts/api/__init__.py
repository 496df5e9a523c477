"""accounts' face on the REST API: tokens, authentication classes, auth/* and users/me."""
