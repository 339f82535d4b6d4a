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
    "Active conversations": "Conversaciones activas",
    "Messages today": "Mensajes de hoy",
    "Total messages": "Mensajes en total",
    "Waiting to be sent": "En espera de envío",
    "Templates awaiting approval": "Plantillas pendientes de aprobación",
    "The oldest message waiting to be sent has waited %(seconds)s s.": (
        "El mensaje más antiguo en espera de envío lleva %(seconds)s s esperando."
    ),
    "Delivery of sent messages": "Entrega de los mensajes enviados",
    "Period": "Periodo",
    "Last 24 hours": "Últimas 24 horas",
    "Last 7 days": "Últimos 7 días",
    "Failing webhook endpoints": "Webhooks con fallos",
    "Every webhook endpoint is answering.": "Todos los webhooks responden.",
    "disabled": "desactivado",
    "Figures as of %(moment)s UTC; today starts at 00:00 UTC.": (
        "Cifras a las %(moment)s UTC; el día empieza a las 00:00 UTC."
    ),
    # The platform's dashboard
    "Tenants": "Organizaciones",
    "Tenant": "Organización",
    "Active tenants": "Organizaciones activas",
    "Suspended tenants": "Organizaciones suspendidas",
    "Usage by tenant": "Uso por organización",
    "No tenants yet.": "Todavía no hay organizaciones.",
    "active": "activa",
    "suspended": "suspendida",
    "No conversations yet.": "Todavía no hay conversaciones.",
}
