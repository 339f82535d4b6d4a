"""Spanish for the layout, signing in, errors and the dashboard."""

SPANISH = {
    # Layout
    "Skip to content": "Saltar al contenido",
    "Sections": "Secciones",
    "Language": "Idioma",
    "Sign out": "Cerrar sesión",
    "Dashboard": "Panel",
    # Signing in
    "Sign in": "Iniciar sesión",
    "Username": "Usuario",
    "Password": "Contraseña",
    "The username or password is wrong.": "El usuario o la contraseña no son correctos.",
    "Too many failed sign-ins from here. Wait a few minutes, then try again.": (
        "Demasiados intentos fallidos desde aquí. Espere unos minutos y vuelva a intentarlo."
    ),
    # Errors
    "Bad request": "Solicitud incorrecta",
    "Forbidden": "Acceso denegado",
    "Not found": "No encontrado",
    "Method not allowed": "Método no permitido",
    "Conflict": "Conflicto",
    "Request body too large": "El contenido enviado es demasiado grande",
    "Invalid input": "Datos no válidos",
    "Too many requests": "Demasiadas solicitudes",
    "Service unavailable": "Servicio no disponible",
    "Error": "Error",
    "Something went wrong on our side. Try again in a moment.": (
        "Algo ha fallado de nuestro lado. Vuelva a intentarlo en un momento."
    ),
    "Back to the dashboard": "Volver al panel",
    # Dashboard
    "Latest conversations": "Últimas conversaciones",
    "No conversations yet.": "Todavía no hay conversaciones.",
}
